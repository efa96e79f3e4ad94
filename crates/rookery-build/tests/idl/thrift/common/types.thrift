typedef string Text
const i32 LIMIT = 10
