{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        pre_hook="{{ delete_window('week_start', widened_start('week'), widened_end('week'), 'select ' ~ dbt.date_trunc('week', 'min(day)') ~ ' from ' ~ ref('fct_digest_daily')) }}",
    )
}}

-- Weekly digests (ISO weeks, Monday first) merged from daily digests; the window is widened to whole weeks so a
-- partial window never leaves half a week.
{{ rollup_daily_digests('week') }}
