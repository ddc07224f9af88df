//! Port REST API client.
