package cooperative

// Behind reads a save token's behind_ms line, for the tests.
var Behind = behind
