// Distributed INSERT / UPDATE / DELETE / COPY / INSERT ... SELECT and DDL propagation.
// init() installs what it needs; called from hooks::init().
#pragma once
namespace rollup::writes {
void init();
}  // namespace rollup::writes
