-- The best and worst segments per metric, complete period and level (favourable direction
-- decides what "best" means; neutral metrics rank by size). Levels with one segment are skipped.
with metric_values as (
    select * from {{ ref('metric_values') }}
    where segment_level <> '_total' and value is not null and is_complete
),

metrics as (
    select budget_id, metric_id, favourable from {{ ref('stg_metric_catalog') }}
),

ranked as (
    select
        v.budget_id, v.metric_id, v.grain, v.period_start, v.segment_level, v.segment_id, v.value,
        m.favourable,
        row_number() over (
            partition by v.budget_id, v.metric_id, v.grain, v.period_start, v.segment_level
            order by case when m.favourable = 'down' then v.value else -v.value end, v.segment_id
        ) as rank_best,
        count(*) over (partition by v.budget_id, v.metric_id, v.grain, v.period_start, v.segment_level) as segments_ranked
    from metric_values as v
    inner join metrics as m on m.budget_id = v.budget_id and m.metric_id = v.metric_id
),

with_worst as (
    select *, segments_ranked - rank_best + 1 as rank_worst from ranked where segments_ranked > 1
),

final as (
    -- a level with few segments keeps at most half of them on each side, so best and worst never overlap
    select
        *,
        rank_best <= least({{ var('ranking_top_n') }}, segments_ranked / 2) as is_top,
        rank_worst <= least({{ var('ranking_top_n') }}, segments_ranked / 2) as is_bottom
    from with_worst
    where rank_best <= least({{ var('ranking_top_n') }}, segments_ranked / 2)
       or rank_worst <= least({{ var('ranking_top_n') }}, segments_ranked / 2)
)

select * from final
