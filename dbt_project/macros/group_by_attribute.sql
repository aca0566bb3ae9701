{#
  Query-time grouping of segments by an attribute from the spec (e.g. region, maturity).

  Returns merged digests per attribute value: exact count, sum, mean, min, max and
  variance of every measure, because digests merge exactly (ratios of the result,
  e.g. sum of one measure over count of another, are exact too).

  Example (see analyses/cost_per_lead_by_channel_kind.sql):
    {{ digests_by_attribute('marketing_acquisition', 'channel', 'kind', 'month') }}
#}
{% macro digests_by_attribute(budget_id, level, attribute, grain='month') %}
{%- set source_model = {'day': 'fct_digest_daily', 'week': 'fct_digest_weekly', 'month': 'fct_digest_monthly'}[grain] -%}
{%- set period_col = {'day': 'day', 'week': 'week_start', 'month': 'month_start'}[grain] -%}
with tagged as (
    select
        d.budget_id,
        d.measure,
        d.{{ period_col }} as period_start,
        coalesce(a.attribute_value, '(unset)') as attribute_value,
        d.event_count, d.value_sum, d.value_min, d.value_max, d.value_m2
    from {{ ref(source_model) }} as d
    inner join {{ ref('int_segment_nodes') }} as n
        on n.budget_id = d.budget_id and n.leaf_id = d.segment_id and n.segment_level = '{{ level }}'
    left join {{ ref('dim_segment_attributes') }} as a
        on a.budget_id = n.budget_id and a.segment_level = n.segment_level
       and a.node_value = n.node_value and a.attribute = '{{ attribute }}'
    where d.budget_id = '{{ budget_id }}'
),
merged as (
    {{ merge_digests('tagged', ['budget_id', 'measure', 'period_start', 'attribute_value']) }}
)
select *, {{ sample_variance() }} as value_variance from merged
{% endmacro %}
