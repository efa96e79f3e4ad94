struct Tabbed {
	1:	Unknown	field
}
