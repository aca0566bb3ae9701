{% test digest_is_consistent(model) %}
-- Internal invariants of a digest row: positive count, min <= mean <= max, non-negative M2,
-- and mean = sum / count.
select *
from {{ model }}
where event_count < 1
   or value_min > value_max
   or value_mean < value_min - 1e-9 * greatest(abs(value_min), 1)
   or value_mean > value_max + 1e-9 * greatest(abs(value_max), 1)
   or value_m2 < -1e-6 * greatest(abs(value_sum), 1)
   or abs(value_mean - value_sum / event_count) > 1e-9 * greatest(abs(value_mean), 1)
{% endtest %}
