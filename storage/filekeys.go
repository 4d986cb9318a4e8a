package storage

import (
	"regexp"
	"strings"
)

// A file bucket's writes go to a temporary file that fileblob renames over
// the target when the write completes. By default it makes that file in
// os.TempDir, and the rename fails ("invalid cross-device link") whenever
// the bucket is on another file system than /tmp; told no_tmp_dir, it
// makes it next to the target, named TARGET.HEX.tmp, where List shows it
// as an object while the write lasts (and for good if the writer dies).
//
// The store hides those names from List. So that no real key is ever
// hidden, a key that looks like one, ignoring "~"s at its end, is stored
// with one more "~": the mapping is one to one, and no stored name of a
// real key looks like a temporary file.
var fileTempName = regexp.MustCompile(`\.[0-9a-f]+\.tmp$`)

// fileName is the name key is stored under in a file bucket.
func fileName(key string) string {
	if fileTempName.MatchString(strings.TrimRight(key, "~")) {
		return key + "~"
	}
	return key
}

// fileKey is the key stored under name, and false for fileblob's
// temporary files.
func fileKey(name string) (string, bool) {
	if fileTempName.MatchString(name) {
		return "", false
	}
	if strings.HasSuffix(name, "~") && fileTempName.MatchString(strings.TrimRight(name, "~")) {
		return name[:len(name)-1], true
	}
	return name, true
}
