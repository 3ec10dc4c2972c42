// pallocator.h: PERM_NS::allocator<T> for STL containers, PERM_NEW,
// PERM_DELETE, PERM_FREE and PERM_OVERRIDE_NEW persist even in "x" mode,
// where plain new stays transient.
//
// RUN: %clangxx %cflags %s %ldflags -o %t.exe
// RUN: rm -rf %t.d && mkdir -p %t.d
// RUN: %t.exe %t.d/img | FileCheck --check-prefix=RUN1 %s
// RUN: %t.exe %t.d/img | FileCheck --check-prefix=RUN2 %s
// RUN: %t.exe %t.d/img | FileCheck --check-prefix=RUN3 %s
// RUN1: fresh: vector persistent, map persistent, node persistent, plain new transient
// RUN2: restored: vector 1000 [0..999], map 1 entries, nodes 1
// RUN3: restored: vector 2000 [0..1999], map 2 entries, nodes 2
#include <pallocator.h>

#include <cstdio>
#include <functional>
#include <map>
#include <vector>

using PVec = std::vector<long, PERM_NS::allocator<long>>;
using PMap = std::map<long, long, std::less<long>,
                      PERM_NS::allocator<std::pair<const long, long>>>;

struct Node {
  PERM_OVERRIDE_NEW
  Node *Next;
  long Value;
  Node(Node *N, long V) : Next(N), Value(V) {}
};

static PVec *Vec;
static PMap *Map;
static Node *Nodes;
static long Runs;

static const char *where(const void *P) {
  perm_stats_t St;
  perm_stats(&St);
  auto A = reinterpret_cast<uint64_t>(P);
  return A >= St.region_base && A < St.region_base + St.region_size
             ? "persistent"
             : "transient";
}

int main(int Argc, char **Argv) {
  if (Argc != 2)
    return 2;
  perm_register(&Vec, sizeof Vec, "Vec");
  perm_register(&Map, sizeof Map, "Map");
  perm_register(&Nodes, sizeof Nodes, "Nodes");
  perm_register(&Runs, sizeof Runs, "Runs");
  if (perm_open(Argv[1], "a+x") != 0) {
    std::printf("FAIL %s\n", perm_error());
    return 1;
  }
  if (!perm_restored()) {
    Vec = PERM_NEW(PVec);
    Map = PERM_NEW(PMap);
  } else {
    long N = 0;
    for (Node *P = Nodes; P; P = P->Next)
      N++;
    bool Ok = true;
    for (size_t I = 0; I < Vec->size(); I++)
      Ok &= (*Vec)[I] == (long)I;
    std::printf("restored: vector %zu [%ld..%ld]%s, map %zu entries, nodes %ld\n",
                Vec->size(), Vec->front(), Vec->back(), Ok ? "" : " BAD",
                Map->size(), N);
  }
  long Base = (long)Vec->size();
  for (long I = 0; I < 1000; I++)
    Vec->push_back(Base + I);
  (*Map)[Runs] = Runs * 10;
  Nodes = new Node(Nodes, Runs);
  Runs++;
  int *Plain = new int(1);
  if (!perm_restored())
    std::printf("fresh: vector %s, map %s, node %s, plain new %s\n",
                where(Vec->data()), where(Map), where(Nodes), where(Plain));
  delete Plain;
  if (Runs == 3) { // exercise the destroy paths once
    PVec *Tmp = PERM_NEW(PVec, 10, 7L);
    PERM_DELETE(Tmp, PVec);
    void *Raw = perm_malloc(32);
    PERM_FREE(Raw);
  }
  if (perm_checkpoint() != 0) {
    std::printf("FAIL %s\n", perm_error());
    return 1;
  }
  return 0;
}
