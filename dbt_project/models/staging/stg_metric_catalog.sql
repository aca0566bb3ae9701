with source as (
    select * from {{ source('raw', 'metric_catalog') }}
),

final as (
    select
        budget_id,
        metric_id,
        name as metric_name,
        description,
        metric_kind,
        measure,
        aggregation,
        of_level,
        formula,
        step,
        step_order,
        roles,
        classification,
        is_north_star,
        favourable,
        unit
    from source
)

select * from final
