-- Nodes of the metrics tree: each metric with its value-chain step, roles and classification.
with catalog as (
    select * from {{ ref('stg_metric_catalog') }}
),

final as (
    select
        *,
        {{ has_label('roles', 'input') }} as is_input,
        {{ has_label('roles', 'output') }} as is_output,
        {{ has_label('roles', 'leading') }} as is_leading,
        {{ has_label('roles', 'lagging') }} as is_lagging,
        {{ has_label('roles', 'diagnostic') }} as is_diagnostic
    from catalog
)

select * from final
