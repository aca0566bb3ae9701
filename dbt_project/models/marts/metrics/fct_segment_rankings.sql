-- The best and worst segments per metric, complete period and level (favourable direction
-- decides what "best" means; neutral metrics rank by size). Levels with one segment are skipped.
-- A segment seen before that has no events in a period counts 0 for a count or sum: a store closed for
-- renovation has no row on its closed days, and is then the worst store, not missing from the ranking. Not
-- once it has left: silent for longer than it ever was before and than var retired_after (a store closed for
-- good was the worst store at £0 every day after). A segment whose value was 0 in every period is not ranked.
-- Kept by period (macros/kept_periods.sql): a run ranks again only the periods whose values changed, or all
-- of a budget's periods at a grain when its segments did (a new one, or one first non-zero).
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_changed_periods(ranking_readings()) }}",
    )
}}

with to_build as (
    {{ periods_to_build(ranking_readings()) }}
),

metric_values as (
    select * from {{ ref('metric_values') }}
    where segment_level <> '_total' and value is not null and is_complete
),

metrics as (
    select
        budget_id, metric_id, favourable,
        metric_kind = 'base' and aggregation in ('count', 'sum', 'distinct_count') as zero_when_empty
    from {{ ref('stg_metric_catalog') }}
),

segments as (
    -- each segment's history: its first period, and whether the metric was ever non-zero for it (a cost
    -- centre that never carries repairs, gritting depots, is not the worst at repairs: it has none to rank)
    select
        budget_id, metric_id, grain, segment_level, segment_id,
        min(period_start) as first_period, max(abs(value)) > 0 as is_active
    from metric_values
    group by budget_id, metric_id, grain, segment_level, segment_id
),

in_periods as (
    -- the values of the periods to rank
    select v.budget_id, v.metric_id, v.grain, v.period_start, v.segment_level, v.segment_id, v.value
    from metric_values as v
    semi join to_build as b on b.budget_id = v.budget_id and b.grain = v.grain and b.period_start = v.period_start
),

periods as (
    select distinct budget_id, metric_id, grain, segment_level, period_start from in_periods
),

silent as (
    -- known segments without a row in a period, for metrics whose value over no events is 0
    select p.budget_id, p.metric_id, p.grain, p.period_start, p.segment_level, s.segment_id
    from periods as p
    inner join metrics as m on m.budget_id = p.budget_id and m.metric_id = p.metric_id and m.zero_when_empty
    inner join segments as s
        on s.budget_id = p.budget_id and s.metric_id = p.metric_id and s.grain = p.grain
        and s.segment_level = p.segment_level and s.first_period <= p.period_start
    anti join in_periods as v
        on v.budget_id = p.budget_id and v.metric_id = p.metric_id and v.grain = p.grain
        and v.period_start = p.period_start and v.segment_id = s.segment_id
),

seen as (
    -- the periods each segment had a row in, any metric's, with the longest silence it had kept up to each
    select
        *,
        max(coalesce({{ periods_apart('grain', 'previous_start', 'period_start') }} - 1, 0)) over (
            partition by budget_id, grain, segment_level, segment_id order by period_start
        ) as longest_silence
    from (
        select
            budget_id, grain, segment_level, segment_id, period_start,
            lag(period_start) over (
                partition by budget_id, grain, segment_level, segment_id order by period_start
            ) as previous_start
        -- only the segments silent in a period to rank: their whole history, no one else's
        from (
            select distinct v.budget_id, v.grain, v.segment_level, v.segment_id, v.period_start
            from metric_values as v
            semi join silent as q
                on q.budget_id = v.budget_id and q.grain = v.grain and q.segment_level = v.segment_level
                and q.segment_id = v.segment_id
        )
    )
),

quiet as (
    -- their zeros while still in business: silent no longer than before, or than var retired_after
    select q.*, 0.0 as value
    from silent as q
    asof inner join seen as w
        on w.budget_id = q.budget_id and w.grain = q.grain and w.segment_level = q.segment_level
        and w.segment_id = q.segment_id and w.period_start <= q.period_start
    where {{ periods_apart('q.grain', 'w.period_start', 'q.period_start') }}
        <= greatest(w.longest_silence, {{ retired_after('q.grain') }})
),

scored as (
    select v.*
    from (select * from in_periods union all select * from quiet) as v
    semi join segments as a
        on a.budget_id = v.budget_id and a.metric_id = v.metric_id and a.grain = v.grain
        and a.segment_level = v.segment_level and a.segment_id = v.segment_id and a.is_active
),

ranked as (
    select
        v.budget_id, v.metric_id, v.grain, v.period_start, v.segment_level, v.segment_id, v.value,
        m.favourable,
        b.input_reading,
        row_number() over (
            partition by v.budget_id, v.metric_id, v.grain, v.period_start, v.segment_level
            order by case when m.favourable = 'down' then v.value else -v.value end, v.segment_id
        ) as rank_best,
        count(*) over (partition by v.budget_id, v.metric_id, v.grain, v.period_start, v.segment_level) as segments_ranked,
        -- how many share the value: the worst of 4,664 customers is one of the 2,101 with no orders, not the one
        -- its name sorts last
        count(*) over (
            partition by v.budget_id, v.metric_id, v.grain, v.period_start, v.segment_level, v.value
        ) as segments_tied
    from scored as v
    inner join metrics as m on m.budget_id = v.budget_id and m.metric_id = v.metric_id
    inner join to_build as b on b.budget_id = v.budget_id and b.grain = v.grain and b.period_start = v.period_start
),

with_worst as (
    select *, segments_ranked - rank_best + 1 as rank_worst from ranked where segments_ranked > 1
),

final as (
    -- a level with few segments keeps at most half of them on each side, so best and worst never overlap
    select
        * exclude (input_reading, segments_tied),
        rank_best <= least({{ var('ranking_top_n') }}, segments_ranked / 2) as is_top,
        rank_worst <= least({{ var('ranking_top_n') }}, segments_ranked / 2) as is_bottom,
        segments_tied,
        input_reading
    from with_worst
    where rank_best <= least({{ var('ranking_top_n') }}, segments_ranked / 2)
       or rank_worst <= least({{ var('ranking_top_n') }}, segments_ranked / 2)
)

select * from final
