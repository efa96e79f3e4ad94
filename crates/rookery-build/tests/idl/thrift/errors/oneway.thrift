exception Oops {}

service Fire {
  oneway i32 count()
  oneway void forget() throws (1: Oops oops)
}
