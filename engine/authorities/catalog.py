"""The authorities catalog: id -> Authority, superior bodies, and who performs which procedure."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from engine.authorities.authority import Authority
from engine.definition.procedure import Procedure
from engine.errors import InvalidInput

# The organisation of applicants' accounts: citizens belong to no authority, and no authority may
# take this id (the schema refuses it).
CITIZENS = "citizens"


@dataclass(frozen=True)
class AuthorityCatalog:
    """Every authority by id, in the order of their official names."""

    by_id: dict[str, Authority]

    def __contains__(self, authority_id: object) -> bool:
        return authority_id in self.by_id

    def __iter__(self) -> Iterator[Authority]:
        return iter(sorted(self.by_id.values(), key=lambda a: (a.name, a.id)))

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, authority_id: str) -> Authority | None:
        return self.by_id.get(authority_id)

    def check_member(self, role: str, org: str) -> None:
        """InvalidInput unless a user of `role` may belong to `org`: an applicant to
        `citizens`, every other role to an authority of the catalog."""
        if role == "applicant":
            if org != CITIZENS:
                raise InvalidInput(f"an applicant belongs to the organisation {CITIZENS!r}, "
                                   f"not {org!r}", field="org")
            return
        if org not in self.by_id:
            known = ", ".join(sorted(self.by_id)) or "none"
            raise InvalidInput(f"organisation {org!r} is not in the authorities catalog "
                               f"(known: {known})", field="org")

    def superior(self, authority: Authority) -> Authority | None:
        """Its superior body, if the catalog names one (validation checked that it exists)."""
        return self.by_id.get(authority.superior) if authority.superior else None

    def subordinates(self, authority_id: str) -> list[Authority]:
        """Every authority below `authority_id` in the chain of superior bodies (its subordinates
        and theirs), in the catalog's order: the local register a superior body keeps."""
        below: set[str] = set()
        frontier = {authority_id}
        while frontier:  # validation refused chains that come back to where they started
            frontier = {a.id for a in self.by_id.values()
                        if a.superior in frontier and a.id not in below}
            below |= frontier
        return [a for a in self if a.id in below]

    def is_within(self, authority_id: str, superior_id: str) -> bool:
        """Whether `authority_id` is `superior_id` itself or one of its subordinates."""
        seen: set[str] = set()
        current = self.by_id.get(authority_id)
        while current is not None and current.id not in seen:
            if current.id == superior_id:
                return True
            seen.add(current.id)
            current = self.by_id.get(current.superior) if current.superior else None
        return False

    @staticmethod
    def performs(authority: Authority, procedure: Procedure) -> bool:
        return authority.performs(procedure.number, tuple(a.kind for a in procedure.authorities))

    def procedures_of(self, authority: Authority,
                      procedures: Iterable[Procedure]) -> list[Procedure]:
        """The procedures of `procedures` (in their order) that `authority` performs."""
        return [p for p in procedures if self.performs(authority, p)]

    def authorities_for(self, procedure: Procedure) -> list[Authority]:
        """Every authority that performs `procedure`."""
        return [a for a in self if self.performs(a, procedure)]
