{#
  Incremental digests rebuild a window of days [window_start, window_end): the pre-hook deletes the
  window's rows, the model inserts them again, so a re-run of a window gives the same rows. Only
  periods still covered by the upstream table are rebuilt (covered_sql gives the first covered period
  start, at the model's own grain), so retention pruning upstream never erases history downstream.

  Dagster passes the window as the environment variables BUDGETLENS_WINDOW_START / _END: dbt re-parses
  the whole project whenever --vars change (every daily run), but only the files reading an environment
  variable when it changes (measured at 10M events: 8.4 s before the first node against 2.8 s). The
  variables are read only when executing (`execute`), never while parsing, so partial parsing does not
  record them and a new window re-parses nothing (0.70 s from dbt's start to the first node against
  1.15 s). By hand, the vars window_start / window_end still work when those variables are unset
  (defaults 1900..2100: every row).
#}
{% macro window_start() %}{{ window_bound("BUDGETLENS_WINDOW_START", "window_start") }}{% endmacro %}
{% macro window_end() %}{{ window_bound("BUDGETLENS_WINDOW_END", "window_end") }}{% endmacro %}
{% macro window_bound(env_name, var_name) -%}
  {%- if execute -%}
    cast('{{ env_var(env_name, var(var_name)) }}' as date)
  {%- else -%}
    cast(null as date)
  {%- endif -%}
{%- endmacro %}

{% macro delete_window(period_col, start_sql, end_sql, covered_sql) %}
{% if is_incremental() %}
delete from {{ this }}
where {{ period_col }} >= {{ start_sql }}
  and {{ period_col }} < {{ end_sql }}
  and {{ period_col }} >= coalesce(({{ covered_sql }}), {{ end_sql }})
{% endif %}
{% endmacro %}

{#
  Body of a weekly or monthly digest model: every daily digest merged per `grain` (no re-scan of raw
  events).
#}
{% macro rollup_daily_digests(grain) %}
with daily as (
    select
        budget_id, measure, segment_id,
        cast({{ dbt.date_trunc(grain, 'day') }} as date) as {{ grain }}_start,
        event_count, value_sum, value_min, value_max, value_m2
    from {{ ref('fct_digest_daily') }}
),

merged as (
    {{ merge_digests('daily', ['budget_id', 'measure', 'segment_id', grain ~ '_start']) }}
),

final as (
    select *, {{ sample_variance() }} as value_variance from merged
)

select * from final
{% endmacro %}
