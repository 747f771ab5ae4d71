# Sourced by scripts/test.sh and scripts/package.sh: one ccache setting for every build of this
# tree, in whatever folder. debhelper gives the package build its own HOME, where ccache would find
# neither its configuration nor its cache, so both are named; the base folder (the checkout, unless
# ccache has one) and no working directory in the key let the package build take the objects of a
# build with the same flags in another folder (packaging/README.md, "The test command").
CCACHE_DIR="$(ccache --get-config cache_dir)"
CCACHE_BASEDIR="$(ccache --get-config base_dir)"
[ -n "$CCACHE_BASEDIR" ] || CCACHE_BASEDIR="$PWD"
CCACHE_NOHASHDIR=1
export CCACHE_DIR CCACHE_BASEDIR CCACHE_NOHASHDIR
