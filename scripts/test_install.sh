#!/usr/bin/env bash
# Installs a build into a fresh temporary prefix and uses it as an
# application would: compiles the MLP with the installed dlc, builds
# examples/embed_c (through find_package and through pkg-config) and
# examples/embed_cpp (find_package) against the installed libdlrt, trains a
# few steps with embed_cpp and classifies test images with its checkpoint
# through embed_c. Also checks libdlrt's soname, that the installed CMake
# and pkg-config files name no path of the source or build tree, and that
# the applications link libdlrt alone (not OpenBLAS, protobuf, zlib).
# Run by ctest as install_package.
#
#   bash scripts/test_install.sh [BUILD_DIR]     (default: build; dlc, dlrun and dlrt built)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build_arg=${1:-$src/build}
fail() { echo "test_install: FAIL: $*" >&2; exit 1; }
[ -f "$build_arg/CMakeCache.txt" ] || fail "$build_arg is not a CMake build folder"
build=$(cd "$build_arg" && pwd)
data=/usr/share/datasets/fashion-mnist
[ -f "$data/train-images-idx3-ubyte.gz" ] || fail "no Fashion-MNIST in $data (apt-get install dataset-fashion-mnist)"
command -v pkg-config >/dev/null || fail "no pkg-config (apt-get install pkg-config)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
step() { echo "test_install: $*"; }
# run LOG COMMAND...: runs it with its output in $tmp/LOG, shown when it fails.
run() {
  local log=$tmp/$1; shift
  local rc=0
  "$@" >"$log" 2>&1 || rc=$?
  [ $rc = 0 ] || { cat "$log" >&2; fail "exit status $rc from: $*"; }
}

step "cmake --install $build --prefix $prefix"
run install.log cmake --install "$build" --prefix "$prefix"
pc=$(find "$prefix" -name dlrt.pc)
[ -n "$pc" ] || fail "no dlrt.pc installed"
libdir=$(dirname "$(dirname "$pc")")
for f in bin/dlc bin/dlrun include/dlrt.h include/dlrt.hpp; do
  [ -f "$prefix/$f" ] || fail "$f not installed"
done
for f in libdlrt.so libdlrt.so.0 cmake/dlrt/dlrtConfig.cmake cmake/dlrt/dlrtConfigVersion.cmake \
         cmake/dlrt/dlrtTargets.cmake; do
  [ -e "$libdir/$f" ] || fail "${libdir#"$prefix"/}/$f not installed"
done
# Only the tools, libdlrt (with its MPI and NCCL engines when found) and its
# package files: no gtest, no test binary.
extra=$(cd "$prefix" && find . \( -type f -o -type l \) | sed 's|^\./||' |
  grep -Ev '^(bin/(dlc|dlrun)|include/dlrt\.h(pp)?|.*/libdlrt\.so(\.[0-9.]+)?|.*/libdlrt_(mpi|nccl)\.so)$' |
  grep -Ev '^.*/(cmake/dlrt/dlrt[A-Za-z-]*\.cmake|pkgconfig/dlrt\.pc)$' || true)
[ -z "$extra" ] || fail "installed more than the package: $extra"
step "installed only dlc, dlrun, libdlrt, its headers and package files"

soname=$(readelf -d "$libdir/libdlrt.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libdlrt.so.0 ] || fail "libdlrt's soname is '$soname', not libdlrt.so.0"
for tool in dlc dlrun; do
  if ldd "$prefix/bin/$tool" | grep -q 'not found'; then
    ldd "$prefix/bin/$tool" >&2
    fail "the installed $tool misses a shared library"
  fi
done
# Relocatable: no file of the package may name where it was built.
leaks=$(grep -rlF -e "$src" -e "$build" "$libdir/cmake" "$libdir/pkgconfig" "$prefix/include" || true)
[ -z "$leaks" ] || fail "installed files name the source or build tree: $leaks"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --modversion dlrt)" = "$version" ] || fail "pkg-config --modversion dlrt is not $version"
step "libdlrt soname $soname, version $version, no build paths in the package files"

step "gunzip Fashion-MNIST"
mkdir "$tmp/data"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  gzip -dc "$data/$f.gz" >"$tmp/data/$f" || fail "cannot gunzip $data/$f.gz"
done

step "installed dlc compiles models/mlp_mnist.pbtxt"
run dlc.log "$prefix/bin/dlc" compile "$src/models/mlp_mnist.pbtxt" --batch 32 -o "$tmp/mlp.dlc"
run dlrun.log "$prefix/bin/dlrun" info "$tmp/mlp.dlc"

# The applications build as a user would, with the compilers on PATH.
step "build embed_c and embed_cpp with find_package(dlrt)"
for ex in embed_c embed_cpp; do
  run "$ex-configure.log" cmake -S "$src/examples/$ex" -B "$tmp/$ex" -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_BUILD_TYPE=Release
  run "$ex-build.log" cmake --build "$tmp/$ex"
done
step "build embed_c with pkg-config"
# The command of examples/embed_c/README.md, with the run path to this prefix.
# shellcheck disable=SC2046  # pkg-config's flags are to be split into words
run embed_c-pc.log cc -std=c99 -Wall -Wextra -o "$tmp/embed_c_pc" "$src/examples/embed_c/main.c" \
  $(pkg-config --cflags --libs dlrt) -Wl,-rpath,"$(pkg-config --variable=libdir dlrt)"

# An application's NEEDED libraries: libdlrt and the C and C++ runtimes,
# never libdlrt's own dependencies.
for exe in "$tmp/embed_c/embed_c" "$tmp/embed_c_pc" "$tmp/embed_cpp/embed_cpp"; do
  needed=$(readelf -d "$exe" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
  case " $needed " in *" libdlrt.so.0 "*) ;; *) fail "$exe does not link libdlrt.so.0 (NEEDED: $needed)" ;; esac
  for lib in $needed; do
    case $lib in
      libdlrt.so.0 | libc.so.6 | libm.so.6 | libstdc++.so.6 | libgcc_s.so.1) ;;
      *) fail "$exe links $lib itself (NEEDED: $needed); only libdlrt should be on its link line" ;;
    esac
  done
done
step "the examples link libdlrt.so.0 and the C/C++ runtimes only"

step "embed_cpp trains 50 steps"
run embed_cpp.log "$tmp/embed_cpp/embed_cpp" "$tmp/mlp.dlc" "$tmp/data/train-images-idx3-ubyte" \
  "$tmp/data/train-labels-idx1-ubyte" "$tmp/weights.safetensors" 50
[ "$(grep -c '^step [0-9]*: loss [0-9.]*$' "$tmp/embed_cpp.log")" = 50 ] ||
  { cat "$tmp/embed_cpp.log" >&2; fail "embed_cpp did not print 50 losses"; }
[ -s "$tmp/weights.safetensors" ] || fail "embed_cpp saved no checkpoint"
grep '^mean loss' "$tmp/embed_cpp.log"

# 100 images: three whole batches of 32 and a padded one.
step "embed_c classifies 100 test images with embed_cpp's checkpoint"
for exe in embed_c/embed_c embed_c_pc; do
  run "$(basename "$exe").out" "$tmp/$exe" "$tmp/mlp.dlc" "$tmp/data/t10k-images-idx3-ubyte" \
    --labels "$tmp/data/t10k-labels-idx1-ubyte" --weights "$tmp/weights.safetensors" --count 100
done
out=$tmp/embed_c.out
[ "$(grep -cE '^image [0-9]+: class [0-9] \(.*\), probability [01]\.[0-9]{3}, label [0-9]$' "$out")" = 100 ] ||
  { cat "$out" >&2; fail "embed_c did not print 100 predictions"; }
cmp -s "$out" "$tmp/embed_c_pc.out" ||
  { diff "$out" "$tmp/embed_c_pc.out" >&2; fail "the pkg-config build printed otherwise"; }
correct=$(sed -n 's/^correct: \([0-9]*\) of 100$/\1/p' "$out")
# Untrained, the MLP gets about 10 of 100; after 50 steps about 68.
[ -n "$correct" ] && [ "$correct" -ge 50 ] ||
  { cat "$out" >&2; fail "embed_c got ${correct:-?} of 100 right (want >= 50)"; }
step "embed_c: $correct of 100 correct, same output from both builds"

# A failing call must say why and exit nonzero.
if "$tmp/embed_c/embed_c" "$tmp/missing.dlc" "$tmp/data/t10k-images-idx3-ubyte" >"$tmp/err.out" 2>&1; then
  fail "embed_c succeeded on a missing model"
fi
grep -q 'missing.dlc: cannot open' "$tmp/err.out" ||
  { cat "$tmp/err.out" >&2; fail "embed_c did not print dlrt's error"; }
step "ok"
