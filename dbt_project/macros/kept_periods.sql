{#
  Models kept by period. A daily run changes a few periods (the new day, its week and month) of tables holding
  two years of them, so such a model rebuilds only the periods whose inputs changed instead of the whole
  table. Each row carries `input_reading`: a hash of everything its period is made from (the period's input
  rows, the budget's settings the model reads, and the model's own code, so an edited model rebuilds whole).

  A period is a budget, grain and period start (`period_keys`). The model's `<name>_readings()` macro gives
  one reading per period. The pre-hook `delete_changed_periods` deletes the rows whose period now reads
  differently or is gone (a budget removed, days pruned); the model then builds the periods with no rows
  left (`periods_to_build`), in the same transaction. A table without the column (made before it existed)
  is emptied and built whole, once, and `on_schema_change='append_new_columns'` adds the column.

  A `dbt build --full-refresh` still rebuilds every period; a model whose macros change (not its own file)
  needs one, as any dbt incremental model does.
#}

{% macro period_keys() %}{{ return(['budget_id', 'grain', 'period_start']) }}{% endmacro %}

{% macro kept_by_reading() %}
    {%- if not is_incremental() -%}{{ return(false) }}{%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {{ return('input_reading' in columns) }}
{% endmacro %}

{# The model's code in a reading: its file's checksum. #}
{% macro code_reading() -%}
'{{ model.checksum.checksum }}'
{%- endmacro %}

{% macro delete_changed_periods(readings_sql) %}
{% if kept_by_reading() %}
delete from {{ this }}
where not exists (
    select 1 from ({{ readings_sql }}) as r
    where {% for key in period_keys() %}r.{{ key }} = {{ this }}.{{ key }} and {% endfor %}
          r.input_reading = {{ this }}.input_reading
)
{% elif is_incremental() %}
delete from {{ this }}
{% endif %}
{% endmacro %}

{# The readings of the periods to build: all of them, or only those with no rows left after the pre-hook. #}
{% macro periods_to_build(readings_sql) %}
select r.*
from ({{ readings_sql }}) as r
{% if kept_by_reading() %}
anti join (select distinct {{ period_keys() | join(', ') }}, input_reading from {{ this }}) as kept
    on {% for key in period_keys() %}kept.{{ key }} = r.{{ key }} and {% endfor %}kept.input_reading = r.input_reading
{% endif %}
{% endmacro %}
