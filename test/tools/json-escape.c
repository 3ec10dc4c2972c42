// perm info --json stays valid JSON whatever bytes a name holds: quotes,
// backslashes and control characters are escaped, well-formed UTF-8 passes
// through, and bytes that are not UTF-8 become U+FFFD.
//
// RUN: %clang %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d/img
// RUN: %perm info --json %t.d/img > %t.json
// RUN: python3 -m json.tool %t.json > /dev/null
// RUN: python3 -c "import json,sys; n=[g['name'] for g in json.load(open(sys.argv[1]))['globals']]; print(ascii(n))" %t.json | FileCheck %s
// CHECK: ['q"uote\\back\tslash\nnl\x01ctl \xe9t\xe9 \ufffd\ufffd end', 'plain']
//
// The text output prints the bytes as they are: it is for people.
// RUN: %perm info %t.d/img | FileCheck --check-prefix=TEXT %s
// TEXT: runtime plain
#include <perm.h>
#include <stdio.h>

static long a, b;

int main(int argc, char **argv) {
  (void)argc;
  /* \xc3\xa9 is "é" in UTF-8; \xff and a lone \xc3 are not UTF-8. */
  perm_register(&a, sizeof a,
                "q\"uote\\back\tslash\nnl\x01" "ctl \xc3\xa9t\xc3\xa9 \xff\xc3 end");
  perm_register(&b, sizeof b, "plain");
  if (perm_open(argv[1], "w+") != 0 || perm_checkpoint() != 0) {
    fprintf(stderr, "%s\n", perm_error());
    return 1;
  }
  return 0;
}
