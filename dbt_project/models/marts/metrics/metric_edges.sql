-- Edges of the metrics tree with their relationship type. For edges between two different
-- metrics, the correlation actually measured over history (daily budget totals, the source
-- shifted by the edge's lag) shows how strong the relationship has been.
with edges as (
    select * from {{ source('raw', 'metric_relationships') }}
),

daily_totals as (
    select budget_id, metric_id, period_start, value
    from {{ ref('metric_values') }}
    where grain = 'day' and segment_level = '_total' and value is not null and is_complete
),

measured as (
    select
        e.budget_id, e.from_metric, e.to_metric, e.lag_days,
        corr(f.value, t.value) as correlation,
        count(*) as correlation_days
    from (select distinct budget_id, from_metric, to_metric, lag_days from edges where from_metric <> to_metric) as e
    inner join daily_totals as f on f.budget_id = e.budget_id and f.metric_id = e.from_metric
    inner join daily_totals as t
        on t.budget_id = e.budget_id and t.metric_id = e.to_metric
       and {{ dbt.datediff('f.period_start', 't.period_start', 'day') }} = e.lag_days
    group by e.budget_id, e.from_metric, e.to_metric, e.lag_days
),

final as (
    select
        e.budget_id,
        e.from_metric,
        e.to_metric,
        e.relationship_type,
        e.origin,
        e.lag_days,
        e.weight,
        e.from_level,
        e.to_level,
        e.description,
        m.correlation,
        coalesce(m.correlation_days, 0) as correlation_days
    from edges as e
    left join measured as m
        on m.budget_id = e.budget_id and m.from_metric = e.from_metric
       and m.to_metric = e.to_metric and m.lag_days = e.lag_days
)

select * from final
