{#
  Merge statistical digests (count, sum, min, max, M2) exactly, without raw events.

  mean  = sum(value_sum) / sum(event_count)
  M2    = sum_i [ M2_i + n_i * (mean_i - mean)^2 ]     (Chan et al. parallel variance)

  `relation` must expose the group columns plus event_count, value_sum, value_min,
  value_max and value_m2. Returns one merged row per group.
#}
{% macro merge_digests(relation, group_cols) -%}
{%- set keys = group_cols | join(', ') -%}
select
    {{ keys }},
    sum(event_count) as event_count,
    sum(value_sum) as value_sum,
    sum(value_sum) / sum(event_count) as value_mean,
    min(value_min) as value_min,
    max(value_max) as value_max,
    sum(value_m2 + event_count * (value_sum / event_count - group_mean) * (value_sum / event_count - group_mean)) as value_m2
from (
    select
        *,
        sum(value_sum) over (partition by {{ keys }}) / sum(event_count) over (partition by {{ keys }}) as group_mean
    from {{ relation }}
) as parts
group by {{ keys }}
{%- endmacro %}

{# Sample variance from a merged digest; NULL below two events. #}
{% macro sample_variance(count_col='event_count', m2_col='value_m2') -%}
case when {{ count_col }} > 1 then {{ m2_col }} / ({{ count_col }} - 1) end
{%- endmacro %}

{# The start of the period after `period_start` for a grain of day, week or month. #}
{% macro period_end(grain_col, period_start_col) -%}
case {{ grain_col }}
    when 'day' then cast({{ dbt.dateadd('day', 1, period_start_col) }} as date)
    when 'week' then cast({{ dbt.dateadd('day', 7, period_start_col) }} as date)
    else cast({{ dbt.dateadd('month', 1, period_start_col) }} as date)
end
{%- endmacro %}

{# True when a comma-separated label list contains `label`. #}
{% macro has_label(list_col, label) -%}
coalesce(position(',{{ label }},' in ',' || {{ list_col }} || ',') > 0, false)
{%- endmacro %}

{# The parent path of a segment path 'a/b/c' -> 'a/b'. #}
{% macro parent_path(path_col) -%}
regexp_replace({{ path_col }}, '/[^/]*$', '')
{%- endmacro %}
