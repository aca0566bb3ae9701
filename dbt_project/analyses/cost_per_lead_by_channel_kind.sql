-- Cost per lead by the channel attribute `kind` (paid_media vs people), per month.
-- Compile with: dbt compile --select cost_per_lead_by_channel_kind  (then run the SQL in target/)
with digests as (
    {{ digests_by_attribute('marketing_acquisition', 'channel', 'kind', 'month') }}
),
final as (
    select
        period_start,
        attribute_value as channel_kind,
        sum(case when measure = 'spend' then value_sum end) as spend,
        sum(case when measure = 'lead' then event_count end) as leads,
        sum(case when measure = 'spend' then value_sum end)
            / nullif(sum(case when measure = 'lead' then event_count end), 0) as cost_per_lead
    from digests
    group by period_start, attribute_value
)
select * from final order by period_start, channel_kind
