with source as (
    select * from {{ source('raw', 'segment_members') }}
),

final as (
    select
        budget_id,
        segment_id as leaf_id,
        depth,
        level as segment_level,
        node_id,
        node_value
    from source
)

select * from final
