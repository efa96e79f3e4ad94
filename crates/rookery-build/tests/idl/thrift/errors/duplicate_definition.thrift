struct Thing {}
enum Thing { A }
const i32 Thing = 1
