-- Attributes of segment values (e.g. region, maturity) declared in the specs.
with source as (
    select * from {{ source('raw', 'segment_attributes') }}
),

final as (
    select budget_id, segment_level, node_value, attribute, attribute_value from source
)

select * from final
