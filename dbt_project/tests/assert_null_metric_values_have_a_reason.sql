{{ config(meta={'dagster': {'ref': {'name': 'metric_values'}}}) }}

-- A metric value is either present or NULL with a reason (never silently missing).
select * from {{ ref('metric_values') }}
where (value is null and null_reason is null)

