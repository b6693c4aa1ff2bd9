"""The declarative base: one metadata for the whole schema, with stable constraint names."""

from __future__ import annotations

from sqlalchemy import MetaData, Numeric
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Unconstrained NUMERIC stores every digit it is given: 8-decimal crypto prices (and more)
# round-trip exactly, and no value is padded with trailing zeros that cost space and COPY time.
Money = Numeric(asdecimal=True)
