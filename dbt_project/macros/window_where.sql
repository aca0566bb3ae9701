{#
  Tests of the incremental digests check only the window a run rebuilt: their `where` config names
  the window as __window_start__ / __window_end__, replaced here by the run's vars (dbt's documented
  way to give `where` run-time values). Rows outside the window were checked by the run that wrote
  them; with the default vars (1900..2100) a hand-run `dbt build` still checks every row.
#}
{% macro get_where_subquery(relation) -%}
    {% set where = config.get('where', '') %}
    {% if where %}
        {% set where = where | replace('__window_start__', window_start()) | replace('__window_end__', window_end()) %}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}
