{#
  How many periods of a grain lie between two period starts (columns or expressions), and the silence a
  segment may keep and still be in business (var retired_after; models/closed_days.py reads the same numbers).
#}
{% macro periods_apart(grain, earlier, later) -%}
    case {{ grain }}
        when 'month' then date_diff('month', {{ earlier }}, {{ later }})
        when 'week' then date_diff('day', {{ earlier }}, {{ later }}) // 7
        else date_diff('day', {{ earlier }}, {{ later }})
    end
{%- endmacro %}

{% macro retired_after(grain) -%}
    case {{ grain }}
        {%- for g, periods in var('retired_after').items() %}
        when '{{ g }}' then {{ periods }}
        {%- endfor %}
    end
{%- endmacro %}
