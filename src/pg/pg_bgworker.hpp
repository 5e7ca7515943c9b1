// PostgreSQL headers for background workers, portals and time zones (the scheduler's needs), on top
// of pg/pg.hpp. Same rule: include every std header before this one.
#pragma once
#include "pg/pg.hpp"
extern "C" {
#include "access/heapam.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "parser/analyze.h"
#include "pgtime.h"
#include "postmaster/interrupt.h"
#include "storage/procarray.h"
#include "tcop/pquery.h"
#include "utils/portal.h"
#include "utils/ps_status.h"
#include "utils/timeout.h"
#include "utils/wait_event.h"
}
