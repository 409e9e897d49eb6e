# The jq twin of `jsonfilter` with its defaults: keep records whose
# index + total is greater than 1.99, with the sum appended as sum_val.
# Usage: jq -c -f map.jq data/*
(.index + .total) as $sum_val
| select($sum_val > 1.99)
| .sum_val = $sum_val
