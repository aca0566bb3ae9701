{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        tags=['daily_partitioned'],
        pre_hook="{{ delete_window('day', window_start(), window_end(), 'select min(day) from ' ~ ref('fct_digest_hourly')) }}",
    )
}}

with hourly as (
    select budget_id, measure, segment_id, day, event_count, value_sum, value_min, value_max, value_m2
    from {{ ref('fct_digest_hourly') }}
    where day >= {{ window_start() }} and day < {{ window_end() }}
),

merged as (
    {{ merge_digests('hourly', ['budget_id', 'measure', 'segment_id', 'day']) }}
),

final as (
    select *, {{ sample_variance() }} as value_variance from merged
)

select * from final
