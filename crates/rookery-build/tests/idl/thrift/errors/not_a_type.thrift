const i32 LIMIT = 10
service Echo {}

struct Uses {
  1: LIMIT limit
  2: Echo echo
}
