typedef Second First
typedef list<First> Second
typedef Itself Itself

struct Uses { 1: First first }
