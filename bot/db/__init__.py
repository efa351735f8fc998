"""Database engine, declarative base and models."""
