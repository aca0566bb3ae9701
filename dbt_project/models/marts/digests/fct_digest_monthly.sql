{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_window('month_start', widened_start('month'), widened_end('month'), 'select ' ~ dbt.date_trunc('month', 'min(day)') ~ ' from ' ~ ref('fct_digest_daily')) }}",
    )
}}

-- Monthly digests merged from daily digests (no re-scan of raw events). The window is
-- widened to whole months so a partial window never leaves half a month.
with daily as (
    select
        budget_id, measure, segment_id,
        cast({{ dbt.date_trunc('month', 'day') }} as date) as month_start,
        event_count, value_sum, value_min, value_max, value_m2
    from {{ ref('fct_digest_daily') }}
    where day >= {{ widened_start('month') }} and day < {{ widened_end('month') }}
),

merged as (
    {{ merge_digests('daily', ['budget_id', 'measure', 'segment_id', 'month_start']) }}
),

final as (
    select *, {{ sample_variance() }} as value_variance from merged
)

select * from final
