"""The operators' panel: stats, user management, broadcast, system health, audit."""
