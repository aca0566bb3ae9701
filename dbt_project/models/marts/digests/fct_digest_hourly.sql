{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        tags=['daily_partitioned'],
        pre_hook="{{ delete_window('day', window_start(), window_end(), 'select min(day) from ' ~ source('raw', 'events')) }}",
    )
}}

with events as (
    select * from {{ ref('stg_events') }}
    where day >= {{ window_start() }} and day < {{ window_end() }}
),

final as (
    select
        budget_id,
        measure,
        segment_id,
        {{ dbt.date_trunc('hour', 'event_ts') }} as hour_start,
        day,
        count(*) as event_count,
        sum(value) as value_sum,
        avg(value) as value_mean,
        min(value) as value_min,
        max(value) as value_max,
        var_pop(value) * count(*) as value_m2,
        var_samp(value) as value_variance
    from events
    group by budget_id, measure, segment_id, {{ dbt.date_trunc('hour', 'event_ts') }}, day
)

select * from final
