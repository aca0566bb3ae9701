{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_window('month_start', widened_start('month'), widened_end('month'), 'select ' ~ dbt.date_trunc('month', 'min(day)') ~ ' from ' ~ ref('fct_digest_daily')) }}",
    )
}}

-- Monthly digests merged from daily digests; the window is widened to whole months so a
-- partial window never leaves half a month.
{{ rollup_daily_digests('month') }}
