/** @file
 * mailchan/version.h - the version of the headers, at compile time.
 *
 * mc_version() gives the version of the library loaded at run time; compare
 * the two to detect a program built against other headers than the library
 * it runs with. This file is the one place the version is written: the
 * build reads it from here.
 */
#ifndef MAILCHAN_VERSION_H
#define MAILCHAN_VERSION_H

/** The major version: a new one breaks the API or ABI (from 1.0 on). */
#define MC_VERSION_MAJOR 0
/** The minor version. */
#define MC_VERSION_MINOR 2
/** The patch level. */
#define MC_VERSION_PATCH 0
/** "MAJOR.MINOR.PATCH" */
#define MC_VERSION "0.2.0"
/** MAJOR * 10000 + MINOR * 100 + PATCH, for `#if` comparisons */
#define MC_VERSION_NUMBER (MC_VERSION_MAJOR * 10000 + MC_VERSION_MINOR * 100 + MC_VERSION_PATCH)

#endif
