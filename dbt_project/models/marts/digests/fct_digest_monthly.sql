{{ config(materialized='table') }}

-- Monthly digests merged from every daily digest, rebuilt whole on each run (see fct_digest_weekly).
{{ rollup_daily_digests('month') }}
