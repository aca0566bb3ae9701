-- built in the daily-partitioned dbt step, with the digests it feeds
{{ config(tags=['daily_partitioned']) }}

with source as (
    select * from {{ source('raw', 'events') }}
),

final as (
    select
        budget_id,
        event_id,
        event_ts,
        day,
        measure,
        value,
        segment_id
    from source
)

select * from final
