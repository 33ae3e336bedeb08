/* common/version.h — the sinkscope version: printed by `sinkscope --version`, stored in every
 * run file (tool_version) and in --resume fingerprints (a record's layout may change). */
#ifndef SS_COMMON_VERSION_H
#define SS_COMMON_VERSION_H

#define SINKSCOPE_VERSION "0.2.0"

#endif
