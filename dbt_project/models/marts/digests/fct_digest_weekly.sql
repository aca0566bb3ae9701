{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_window('week_start', widened_start('week'), widened_end('week'), 'select ' ~ dbt.date_trunc('week', 'min(day)') ~ ' from ' ~ ref('fct_digest_daily')) }}",
    )
}}

-- Weekly digests (ISO weeks, Monday first) merged from daily digests (no re-scan of raw events). The window is
-- widened to whole weeks so a partial window never leaves half a week.
with daily as (
    select
        budget_id, measure, segment_id,
        cast({{ dbt.date_trunc('week', 'day') }} as date) as week_start,
        event_count, value_sum, value_min, value_max, value_m2
    from {{ ref('fct_digest_daily') }}
    where day >= {{ widened_start('week') }} and day < {{ widened_end('week') }}
),

merged as (
    {{ merge_digests('daily', ['budget_id', 'measure', 'segment_id', 'week_start']) }}
),

final as (
    select *, {{ sample_variance() }} as value_variance from merged
)

select * from final
