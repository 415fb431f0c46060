# SPDX-License-Identifier: MIT
# Install rules: placeholder until the packaging work lands.
include(GNUInstallDirs)
