// C++ new/delete, std::vector and std::string live in the persistent heap
// (libstdc++'s operator new calls malloc) and survive restores.
//
// RUN: %clangxx %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d/img | FileCheck --check-prefix=RUN1 %s
// RUN: %t.exe %t.d/img | FileCheck --check-prefix=RUN2 %s
// RUN: %t.exe %t.d/img | FileCheck --check-prefix=RUN3 %s
// RUN1: fresh: 1 strings
// RUN2: restored: 1 strings, tree 1000 nodes ok
// RUN2-NEXT: last: run 1 says hello from a string long enough to be on the heap
// RUN3: restored: 2 strings, tree 2000 nodes ok
// RUN3-NEXT: last: run 2 says hello from a string long enough to be on the heap
#include <perm.h>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

struct Node {
  Node *Left = nullptr, *Right = nullptr;
  long Key;
  explicit Node(long K) : Key(K) {}
};

static std::vector<std::string> *Log;
static std::map<long, std::string> *Names;
static Node *Root;
static long Runs;

static void insert(Node *&T, long K) {
  if (!T)
    T = new Node(K);
  else
    insert(K < T->Key ? T->Left : T->Right, K);
}

static long count(const Node *T, long Lo, long Hi) {
  if (!T)
    return 0;
  if (T->Key < Lo || T->Key > Hi)
    return -1000000; // order broken
  return 1 + count(T->Left, Lo, T->Key) + count(T->Right, T->Key, Hi);
}

int main(int Argc, char **Argv) {
  if (Argc != 2)
    return 2;
  perm_register(&Log, sizeof Log, "Log");
  perm_register(&Names, sizeof Names, "Names");
  perm_register(&Root, sizeof Root, "Root");
  perm_register(&Runs, sizeof Runs, "Runs");
  if (perm_open(Argv[1], "a+") != 0) {
    std::printf("FAIL %s\n", perm_error());
    return 1;
  }
  if (!perm_restored()) {
    Log = new std::vector<std::string>;
    Names = new std::map<long, std::string>;
  } else {
    long N = count(Root, -1L << 62, 1L << 62);
    std::printf("restored: %zu strings, tree %ld nodes %s\n", Log->size(), N,
                N == Runs * 1000 && (long)Names->size() == N ? "ok" : "BAD");
    std::printf("last: %s\n", Log->back().c_str());
  }
  Runs++;
  for (long I = 0; I < 1000; I++) {
    long K = (I * 7919 + Runs * 104729) % 1000003;
    insert(Root, K);
    (*Names)[K] = "node " + std::to_string(K) + " of run " + std::to_string(Runs);
  }
  Log->push_back("run " + std::to_string(Runs) +
                 " says hello from a string long enough to be on the heap");
  if (!perm_restored())
    std::printf("fresh: %zu strings\n", Log->size());
  if (perm_checkpoint() != 0) {
    std::printf("FAIL %s\n", perm_error());
    return 1;
  }
  return 0;
}
