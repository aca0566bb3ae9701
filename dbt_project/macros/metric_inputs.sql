{#
  Inputs of metric_values that its readings (macros/period_readings.sql) read as well.
#}

{# Each budget's days with data: first_day .. last_day, and the last day of the LLM ledger (all budgets). #}
{% macro budget_coverage() %}
with event_days as (
    select distinct budget_id, day from {{ ref('fct_digest_daily') }}
),

event_bounds as (
    select budget_id, min(day) as first_day, max(day) as last_event_day from event_days group by budget_id
),

-- Days ingested after the last event are covered when their weekday had no events on each of its four
-- latest dates before (a shop closed on Sundays), so the run through Sunday completes the week; any other
-- day without events at the end may be a source that is late, and leaves its period open.
after_last_event as (
    select
        i.budget_id, i.day, b.first_day, b.last_event_day,
        -- the latest date of the same weekday on or before the last event
        i.day - 7 * cast(ceil((i.day - b.last_event_day) / 7) as integer) as same_weekday_before
    from {{ source('raw', 'ingested_days') }} as i
    inner join event_bounds as b on b.budget_id = i.budget_id and i.day > b.last_event_day
),

usually_quiet as (
    select
        a.budget_id, a.day, a.last_event_day,
        row_number() over (partition by a.budget_id order by a.day) as nth
    from after_last_event as a
    where a.same_weekday_before - 21 >= a.first_day
      and not exists (
          select 1 from event_days as e
          where e.budget_id = a.budget_id
            and e.day in (a.same_weekday_before, a.same_weekday_before - 7,
                          a.same_weekday_before - 14, a.same_weekday_before - 21)
      )
),

quiet_end as (
    -- the unbroken run of such days right after the last event
    select budget_id, max(day) as last_quiet_day
    from usually_quiet
    where day - last_event_day = nth
    group by budget_id
),

-- A last day cut short (a UTC export ending at 18:00 in New York, a run at noon) is no whole day: on it a
-- measure's events stop at an hour after which the same weekday's four dates before held, on average, at
-- least 10 of them (Poisson: none after it would happen to a whole day 1 time in 20,000). Sparse events that
-- happen to end early, a shop that closes at 17:00 or a quiet Saturday evening leave fewer behind them (the
-- demo's product costs: 4.5 a Saturday after 17:00, against 11 a weekday) and the day stands.
last_hours as (
    select h.budget_id, h.measure, max(h.hour_start) as last_hour
    from {{ ref('fct_digest_hourly') }} as h
    inner join event_bounds as b on b.budget_id = h.budget_id and h.day = b.last_event_day
    group by h.budget_id, h.measure
),

usually_after as (
    select
        h.budget_id, h.measure,
        sum(case when hour(h.hour_start) > hour(l.last_hour) then h.event_count else 0 end)
            / count(distinct h.day) as events_after
    from {{ ref('fct_digest_hourly') }} as h
    inner join event_bounds as b on b.budget_id = h.budget_id
        and h.day < b.last_event_day and h.day >= b.last_event_day - 28 and (b.last_event_day - h.day) % 7 = 0
    inner join last_hours as l on l.budget_id = h.budget_id and l.measure = h.measure
    group by h.budget_id, h.measure
),

cut_short as (
    select budget_id from usually_after group by budget_id having max(events_after) >= 10
),

final as (
    -- the LLM ledger covers its own days, which run on past the events
    select
        b.budget_id, b.first_day,
        case when c.budget_id is not null then b.last_event_day - 1
             else coalesce(q.last_quiet_day, b.last_event_day) end as last_day,
        (select max(cast(called_at as date)) from {{ source('raw', 'llm_calls') }}) as ledger_last_day
    from event_bounds as b
    left join quiet_end as q on q.budget_id = b.budget_id
    left join cut_short as c on c.budget_id = b.budget_id
)

select * from final,
{% endmacro %}

{# The LLM ledger's calls, tokens and cost per budget, grain and period. #}
{% macro llm_by_period() %}
with llm_daily as (
    select
        budget_id,
        cast(called_at as date) as day,
        cast(count(*) as double) as llm_calls,
        cast(sum(input_tokens + cache_creation_input_tokens + cache_read_input_tokens) as double) as llm_input_tokens,
        cast(sum(output_tokens) as double) as llm_output_tokens,
        sum(cost_usd) as llm_cost_usd
    from {{ source('raw', 'llm_calls') }}
    group by budget_id, cast(called_at as date)
),

final as (
    {%- for grain in ['day', 'week', 'month'] %}
    {% if not loop.first %}union all{% endif %}
    select budget_id, '{{ grain }}' as grain,
           cast({{ dbt.date_trunc(grain, 'day') }} as date) as period_start,
           sum(llm_calls) as llm_calls, sum(llm_input_tokens) as llm_input_tokens,
           sum(llm_output_tokens) as llm_output_tokens, sum(llm_cost_usd) as llm_cost_usd
    from llm_daily
    group by budget_id, cast({{ dbt.date_trunc(grain, 'day') }} as date)
    {%- endfor %}
)

select * from final
{% endmacro %}

{#
  Whether a budget's data cover a whole period (a week straddling the first day is partial): the events'
  days (`of` 'events') or, for the LLM ledger's metrics, also the ledger's own days, which run on past the
  events ('ledger'). `coverage` is a row of budget_coverage().
#}
{% macro covered(grain_col, period_start_col, coverage, of) -%}
{%- set last_day = coverage ~ '.last_day' if of == 'events' else
    'greatest(' ~ coverage ~ '.last_day, coalesce(' ~ coverage ~ '.ledger_last_day, ' ~ coverage ~ '.last_day))' -%}
({{ period_start_col }} >= {{ coverage }}.first_day
    and {{ period_end(grain_col, period_start_col) }} <= cast({{ dbt.dateadd('day', 1, last_day) }} as date))
{%- endmacro %}
