{#
  The readings of the models kept by period (macros/kept_periods.sql): one row per period key with
  `input_reading`, a hash of what that period is made from.
#}

{# int_node_digests, per budget, grain and period: the period's leaf digests and the budget's segment tree. #}
{% macro node_digest_readings() %}
with leaves as (
    select budget_id, 'day' as grain, day as period_start,
           hash(measure, segment_id, event_count, value_sum, value_min, value_max, value_m2) as row_hash
    from {{ ref('fct_digest_daily') }}
    union all
    select budget_id, 'week', week_start,
           hash(measure, segment_id, event_count, value_sum, value_min, value_max, value_m2)
    from {{ ref('fct_digest_weekly') }}
    union all
    select budget_id, 'month', month_start,
           hash(measure, segment_id, event_count, value_sum, value_min, value_max, value_m2)
    from {{ ref('fct_digest_monthly') }}
),

periods as (
    select budget_id, grain, period_start, count(*) as n_rows, sum(row_hash) as rows_hash
    from leaves
    group by budget_id, grain, period_start
),

trees as (
    select budget_id, count(*) as n_rows, sum(hash(leaf_id, depth, segment_level, node_id)) as rows_hash
    from {{ ref('int_segment_nodes') }}
    group by budget_id
)

select p.budget_id, p.grain, p.period_start,
       hash(p.n_rows, p.rows_hash, t.n_rows, t.rows_hash, {{ code_reading() }}) as input_reading
from periods as p
inner join trees as t on t.budget_id = p.budget_id
{% endmacro %}

{#
  metric_values, per budget, grain and period: the period's node digests (their own readings), distinct
  counts, qualitative values and LLM ledger; the budget's catalogue and composites; whether its data cover
  the period. A budget with a z-scored composite also reads its whole history at the grain, since each new
  period moves the history's mean and deviation: any change rebuilds every period of the grain.
#}
{% macro metric_value_readings() %}
with nodes as (
    select budget_id, grain, period_start, any_value(input_reading) as reading
    from {{ ref('int_node_digests') }}
    group by budget_id, grain, period_start
),

distinct_counts as (
    select budget_id, grain, period_start, count(*) as n_rows, sum(hash(d)) as reading
    from {{ ref('int_distinct_counts') }} as d
    group by budget_id, grain, period_start
),

texts as (
    select budget_id, grain, period_start, count(*) as n_rows, sum(hash(t)) as reading
    from {{ source('raw', 'text_metric_values') }} as t
    group by budget_id, grain, period_start
),

ledger as (
    select budget_id, grain, period_start, hash(l) as reading from ({{ llm_by_period() }}) as l
),

catalogs as (
    select budget_id, count(*) as n_rows, sum(hash(c)) as reading
    from {{ source('raw', 'metric_catalog') }} as c
    group by budget_id
),

components as (
    select budget_id, count(*) as n_rows, sum(hash(c)) as reading,
           bool_or(normalize = 'zscore') as has_zscore
    from {{ source('raw', 'metric_components') }} as c
    group by budget_id
),

histories as (
    select n.budget_id, n.grain, sum(hash(n.reading, d.n_rows, d.reading)) as reading
    from nodes as n
    left join distinct_counts as d
        on d.budget_id = n.budget_id and d.grain = n.grain and d.period_start = n.period_start
    semi join components as z on z.budget_id = n.budget_id and z.has_zscore
    group by n.budget_id, n.grain
),

periods as (
    select budget_id, grain, period_start from nodes
    union
    select budget_id, grain, period_start from texts
    union
    select budget_id, grain, period_start from ledger
),

coverage as (
    {{ budget_coverage() }}
),

final as (
    select
        p.budget_id, p.grain, p.period_start,
        hash(
            n.reading, d.n_rows, d.reading, t.n_rows, t.reading, l.reading,
            cat.n_rows, cat.reading, comp.n_rows, comp.reading, h.reading,
            {{ covered('p.grain', 'p.period_start', 'cov', 'events') }},
            {{ covered('p.grain', 'p.period_start', 'cov', 'ledger') }},
            {{ code_reading() }}
        ) as input_reading
    from periods as p
    left join nodes as n using (budget_id, grain, period_start)
    left join distinct_counts as d using (budget_id, grain, period_start)
    left join texts as t using (budget_id, grain, period_start)
    left join ledger as l using (budget_id, grain, period_start)
    left join catalogs as cat using (budget_id)
    left join components as comp using (budget_id)
    left join histories as h using (budget_id, grain)
    left join coverage as cov using (budget_id)
)

select * from final
{% endmacro %}

{#
  fct_segment_rankings, per budget, grain and period: the period's metric values (their own readings, of the
  complete periods only), the budget's segments at the grain (when each was first seen, whether it was ever
  non-zero: they decide who ranks with a zero), its catalogue and the number of segments kept per side.
#}
{% macro ranking_readings() %}
with ranked_values as (
    select * from {{ ref('metric_values') }}
    where segment_level <> '_total' and value is not null and is_complete
),

periods as (
    select budget_id, grain, period_start, any_value(input_reading) as reading
    from ranked_values
    group by budget_id, grain, period_start
),

segments as (
    select budget_id, grain, sum(hash(metric_id, segment_level, segment_id, first_period, is_active)) as reading
    from (
        select budget_id, metric_id, grain, segment_level, segment_id,
               min(period_start) as first_period, max(abs(value)) > 0 as is_active
        from ranked_values
        group by budget_id, metric_id, grain, segment_level, segment_id
    ) as s
    group by budget_id, grain
),

catalogs as (
    select budget_id, sum(hash(c)) as reading from {{ ref('stg_metric_catalog') }} as c group by budget_id
),

final as (
    select
        p.budget_id, p.grain, p.period_start,
        hash(p.reading, s.reading, cat.reading, {{ var('ranking_top_n') }}, {{ code_reading() }}) as input_reading
    from periods as p
    left join segments as s using (budget_id, grain)
    left join catalogs as cat using (budget_id)
)

select * from final
{% endmacro %}
