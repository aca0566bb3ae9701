-- Every metric of every budget at day, week and month grain, for every segment node and the
-- budget total (segment_level '_total'). Base metrics come from merged digests; derived
-- metrics evaluate their formulas (compiled to SQL from the spec catalogue, evaluated on the
-- node's own base values, so ratios are ratios of sums); composite scores combine their
-- normalised, weighted components. Qualitative metrics come from text (raw.text_metric_values:
-- LLM-extracted or scored offline, with a confidence); system metrics measure the pipeline's own
-- LLM spending (raw.llm_calls). A NULL value always carries a null_reason.
-- Kept by period (macros/kept_periods.sql): a run rebuilds only the periods whose inputs changed
-- (macros/period_readings.sql says which inputs a period's reading covers).
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_changed_periods(metric_value_readings()) }}",
    )
}}

{%- set catalog_query -%}
    select budget_id, metric_id, metric_kind, aggregation, sql_value, sql_null_reason
    from {{ source('raw', 'metric_catalog') }}
    where metric_kind in ('base', 'derived')
    order by budget_id, metric_id
{%- endset -%}
{%- set budgets = {} -%}
{%- if execute -%}
    {%- for row in run_query(catalog_query).rows -%}
        {%- do budgets.setdefault(row['budget_id'], {'base': [], 'derived': []}) -%}
        {%- if row['metric_kind'] == 'base' -%}
            {%- do budgets[row['budget_id']]['base'].append(row['metric_id']) -%}
        {%- else -%}
            {%- do budgets[row['budget_id']]['derived'].append(row) -%}
        {%- endif -%}
    {%- endfor -%}
{%- endif %}

with to_build as (
    {{ periods_to_build(metric_value_readings()) }}
),

nodes as (
    select n.*
    from {{ ref('int_node_digests') }} as n
    semi join to_build as b on b.budget_id = n.budget_id and b.grain = n.grain and b.period_start = n.period_start
),

catalog as (
    select * from {{ ref('stg_metric_catalog') }}
),

spine as (
    select distinct budget_id, grain, period_start, segment_level, segment_id from nodes
),

base_values as (
    select
        s.budget_id, c.metric_id, s.grain, s.period_start, s.segment_level, s.segment_id,
        case c.aggregation
            when 'count' then cast(coalesce(n.event_count, 0) as double)
            when 'sum' then coalesce(n.value_sum, 0)
            when 'mean' then n.value_mean
            when 'min' then n.value_min
            when 'max' then n.value_max
            when 'variance' then n.value_variance
        end as value
    from spine as s
    inner join catalog as c
        on c.budget_id = s.budget_id and c.metric_kind = 'base' and c.aggregation <> 'distinct_count'
    left join nodes as n
        on n.budget_id = s.budget_id and n.measure = c.measure and n.grain = s.grain
       and n.period_start = s.period_start and n.segment_level = s.segment_level and n.segment_id = s.segment_id
),

distinct_values as (
    select
        s.budget_id, c.metric_id, s.grain, s.period_start, s.segment_level, s.segment_id,
        cast(coalesce(d.value, 0) as double) as value
    from spine as s
    inner join catalog as c on c.budget_id = s.budget_id and c.aggregation = 'distinct_count'
    left join {{ ref('int_distinct_counts') }} as d
        on d.budget_id = s.budget_id and d.metric_id = c.metric_id and d.grain = s.grain
       and d.period_start = s.period_start and d.segment_level = s.segment_level and d.segment_id = s.segment_id
),

base_all as (
    select *, case when value is null then 'no events of the measure in the period' end as null_reason
    from base_values
    union all
    select *, cast(null as varchar) as null_reason from distinct_values
),

derived as (
    select
        cast(null as varchar) as budget_id, cast(null as varchar) as metric_id, cast(null as varchar) as grain,
        cast(null as date) as period_start, cast(null as varchar) as segment_level, cast(null as varchar) as segment_id,
        cast(null as double) as value, cast(null as varchar) as null_reason
    where false
{%- for budget_id, defs in budgets.items() if defs['derived'] %}
    union all
    select budget_id, metric_id, grain, period_start, segment_level, segment_id, value, null_reason
    from (
        with pivoted as (
            select
                budget_id, grain, period_start, segment_level, segment_id
                {%- for metric_id in defs['base'] %},
                max(case when metric_id = '{{ metric_id }}' then value end) as "{{ metric_id }}"
                {%- endfor %}
            from base_all
            where budget_id = '{{ budget_id }}'
            group by budget_id, grain, period_start, segment_level, segment_id
        )
        {%- for d in defs['derived'] %}
        {% if not loop.first %}union all{% endif %}
        select
            budget_id, '{{ d["metric_id"] }}' as metric_id, grain, period_start, segment_level, segment_id,
            cast({{ d['sql_value'] }} as double) as value,
            {{ d['sql_null_reason'] }} as null_reason
        from pivoted
        {%- endfor %}
    ) as derived_{{ loop.index }}
{%- endfor %}
),

base_and_derived as (
    select * from base_all
    union all
    select * from derived
),

composite_inputs as (
    select
        c.budget_id, c.metric_id, v.grain, v.period_start, v.segment_level, v.segment_id,
        c.component, c.weight, c.n_components,
        case c.normalize
            when 'none' then v.value
            -- clamp to [0, 1]; the case keeps a NULL input NULL (greatest/least skip NULLs on some engines)
            when 'range' then case when v.value is not null
                then least(greatest((v.value - c.range_min) / (c.range_max - c.range_min), 0.0), 1.0) end
            when 'zscore' then (v.value - avg(v.value) over history) / nullif(stddev_samp(v.value) over history, 0)
        end as normalised
    from {{ source('raw', 'metric_components') }} as c
    inner join base_and_derived as v on v.budget_id = c.budget_id and v.metric_id = c.component
    window history as (partition by c.budget_id, c.metric_id, c.component, v.grain, v.segment_level, v.segment_id)
),

composites as (
    select
        budget_id, metric_id, grain, period_start, segment_level, segment_id,
        case when count(normalised) = max(n_components) then sum(weight * normalised) end as value,
        case when count(normalised) < max(n_components)
            then 'missing component(s): ' || coalesce(string_agg(case when normalised is null then component end, ', '), 'no value in period')
        end as null_reason
    from composite_inputs
    group by budget_id, metric_id, grain, period_start, segment_level, segment_id
),

text_values as (
    select budget_id, metric_id, grain, period_start, segment_level, segment_id, value, null_reason,
           confidence, provenance
    from {{ source('raw', 'text_metric_values') }} as t
    semi join to_build as b on b.budget_id = t.budget_id and b.grain = t.grain and b.period_start = t.period_start
),

llm_by_period as (
    select l.*
    from ({{ llm_by_period() }}) as l
    semi join to_build as b on b.budget_id = l.budget_id and b.grain = l.grain and b.period_start = l.period_start
),

llm_spine as (
    select budget_id, grain, period_start from spine where segment_level = '_total'
    union
    select budget_id, grain, period_start from llm_by_period
),

system_values as (
    {%- for metric_id in ['llm_calls', 'llm_input_tokens', 'llm_output_tokens', 'llm_cost_usd'] %}
    {% if not loop.first %}union all{% endif %}
    select s.budget_id, '{{ metric_id }}' as metric_id, s.grain, s.period_start,
           '_total' as segment_level, '_total' as segment_id,
           coalesce(l.{{ metric_id }}, 0) as value, cast(null as varchar) as null_reason
    from llm_spine as s
    left join llm_by_period as l
        on l.budget_id = s.budget_id and l.grain = s.grain and l.period_start = s.period_start
    {%- endfor %}
),

all_values as (
    select *, cast(null as double) as confidence, 'observed' as provenance from base_and_derived
    union all
    select *, cast(null as double) as confidence, 'observed' as provenance from composites
    union all
    select * from text_values
    union all
    select *, cast(null as double) as confidence, 'system' as provenance from system_values
),

coverage as (
    {{ budget_coverage() }}
),

final as (
    select
        v.budget_id,
        v.metric_id,
        c.metric_kind,
        v.grain,
        v.period_start,
        {{ period_end('v.grain', 'v.period_start') }} as period_end,
        v.segment_level,
        v.segment_id,
        v.value,
        v.null_reason,
        v.provenance,
        v.confidence,
        -- complete = the data covers the whole period (a week straddling the first day is partial)
        case when c.metric_kind = 'system' then {{ covered('v.grain', 'v.period_start', 'cov', 'ledger') }}
            else {{ covered('v.grain', 'v.period_start', 'cov', 'events') }} end as is_complete,
        b.input_reading
    from all_values as v
    inner join catalog as c on c.budget_id = v.budget_id and c.metric_id = v.metric_id
    inner join coverage as cov on cov.budget_id = v.budget_id
    inner join to_build as b on b.budget_id = v.budget_id and b.grain = v.grain and b.period_start = v.period_start
)

select * from final
