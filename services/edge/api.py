"""`/v1`: the clients API for a store's members and keys. Thin handlers: the principal (the
gate in guard.py authenticated it), its scope (403 naming it), then the read or the command.
Ids of another store are looked up within the principal's store and so are 404, never 403."""

from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPBearer
from pydantic import ValidationError

from schemas.accounts import (
    ContactChange,
    ContactInvite,
    ContactList,
    PriceOverrideBody,
    PriceOverrideList,
)
from schemas.api import (
    MAX_LIMIT,
    Accepted,
    AddressPatch,
    AuditPage,
    BulkTagChange,
    ClientPage,
    ClientPatch,
    ClientView,
    CommandAnswer,
    CustomerSegments,
    MergeRequest,
    NewAddress,
    Problem,
    Sort,
    TagChange,
    TagList,
    Timeline,
)
from schemas.common import CleanStr, FieldError
from schemas.events import Segment
from schemas.ingest import ClientType
from schemas.master_data import InUse, MasterDataBody, MasterDataList, MasterKind
from schemas.notes import NoteBody, NoteList
from schemas.orders import AddressList, OrderList
from schemas.privacy import (
    AttestationBody,
    AttestationList,
    AttestationValidity,
    AttestationView,
    ErasureAnswer,
    ErasureList,
    ErasureRequestBody,
    ErasureStatus,
    ErasureView,
    RuoSettings,
    SubjectAccessBundle,
)
from services.edge import client_commands, privacy, reads
from services.edge.export import export_csv
from shared.access import DELETE, ERASE, EXPORT, READ, SETTINGS, WRITE, Principal
from shared.normalize import bounded_errors, field_errors
from shared.resources import Deps


class ApiError(Exception):
    """An answer other than 2xx, as a Problem body."""

    def __init__(self, status: int, error: str, errors: list[FieldError] | None = None,
                 scope: str | None = None) -> None:
        super().__init__(error)
        self.status, self.problem = status, Problem(error=error, errors=errors or [],
                                                    scope=scope)


def deps_of(request: Request) -> Deps:
    deps: Deps = request.app.state.deps
    return deps


def scoped(scope: str) -> Any:
    def principal(request: Request) -> Principal:
        p: Principal = request.state.principal
        if scope not in p.scopes:
            raise ApiError(403, f"this token lacks the scope {scope}", scope=scope)
        return p
    return Depends(principal)


Reader = Annotated[Principal, scoped(READ)]
Writer = Annotated[Principal, scoped(WRITE)]
Deleter = Annotated[Principal, scoped(DELETE)]
Exporter = Annotated[Principal, scoped(EXPORT)]
Eraser = Annotated[Principal, scoped(ERASE)]
SettingsWriter = Annotated[Principal, scoped(SETTINGS)]
NOT_FOUND = ApiError(404, "no such client")
ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": Problem} for s in (401, 403, 404, 409, 422)}

# The gate (guard.py) has checked the token already; this only names the scheme in the OpenAPI
# document.
router = APIRouter(prefix="/v1", responses=ERRORS,
                   dependencies=[Depends(HTTPBearer(auto_error=False, description="pck_usr_… "
                                                    "(a member) or pck_pub_… (a public key)"))])


def client_query(
        q: Annotated[CleanStr | None, Query(max_length=200, description="substring of name, "
                                       "email, phone digits or company")] = None,
        tags: Annotated[CleanStr | None, Query(max_length=2000, description="comma-separated: "
                                          "clients with all of them")] = None,
        type: ClientType | None = None,
        status: Literal["ACTIVE", "BLOCKED"] | None = None,
        source: Annotated[CleanStr | None, Query(max_length=200,
                                            description="source label")] = None,
        archived: Annotated[bool, Query(description="true: the archived clients")] = False,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        segment: Segment | None = None,
        accepts_marketing: Annotated[bool | None, Query(
            description="true: the clients who accept marketing")] = None,
        customer_type: Annotated[UUID | None, Query(description="a customer type's id")] = None,
        customer_segment: Annotated[UUID | None, Query(
            description="a customer segment's id (master data)")] = None,
        broker: Annotated[UUID | None, Query(description="a broker's id")] = None,
        sort: Sort = "-updated_at") -> reads.ClientQuery:
    return reads.ClientQuery(q=q, tags=reads.tag_list(tags), type=type, status=status,
                             source=source, archived=archived, created_after=created_after,
                             created_before=created_before, segment=segment,
                             accepts_marketing=accepts_marketing, customer_type=customer_type,
                             customer_segment=customer_segment, broker=broker, sort=sort)


T = TypeVar("T")
# Query text reaches PostgreSQL as parameters: NUL (which it refuses) and lone surrogates (which
# UTF-8 cannot encode) are 422 here, not 500 there.
Cursor = Annotated[CleanStr | None, Query(max_length=2000,
                                          description="the `next` of the page before")]
Filters = Annotated[reads.ClientQuery, Depends(client_query)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


async def _read(call: Awaitable[T | None]) -> T:
    """The read's answer: 422 for a parameter it cannot use, 404 for nothing found."""
    try:
        result = await call
    except reads.BadQueryError as e:
        raise ApiError(422, str(e), [FieldError(field=e.field, message=str(e))]) from e
    if result is None:
        raise NOT_FOUND
    return result


@router.get("/clients", response_model=ClientPage)
async def list_clients(request: Request, principal: Reader, query: Filters,
                       limit: Limit = 20, cursor: Cursor = None) -> ClientPage:
    return await _read(reads.list_clients(deps_of(request).read_pool, principal.store_id, query,
                                          limit, cursor))


@router.get("/clients/export.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}}})
async def export_clients(request: Request, principal: Exporter,
                         query: Filters) -> StreamingResponse:
    name = f"clients-{datetime.now(UTC):%Y-%m-%d}.csv"
    return StreamingResponse(
        export_csv(deps_of(request).read_pool, principal.store_id, query),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'})


@router.get("/clients/segments", response_model=CustomerSegments)
async def segments(request: Request, principal: Reader) -> CustomerSegments:
    """How many live clients each segment holds (vip: every VIP), and the live total."""
    return await reads.segments(deps_of(request).read_pool, principal.store_id)


@router.get("/clients/vip", response_model=ClientPage)
async def vip_clients(request: Request, principal: Reader, query: Filters, limit: Limit = 20,
                      cursor: Cursor = None) -> ClientPage:
    """The VIP clients (`is_vip`), with the list's filters."""
    return await _read(reads.list_clients(deps_of(request).read_pool, principal.store_id,
                                          replace(query, vip=True), limit, cursor))


@router.get("/clients/{client_id}", response_model=ClientView)
async def get_client(request: Request, principal: Reader, client_id: UUID) -> ClientView:
    return await _read(reads.get_client(deps_of(request).read_pool, principal.store_id,
                                        client_id))


@router.get("/clients/{client_id}/timeline", response_model=Timeline)
async def timeline(request: Request, principal: Reader, client_id: UUID, limit: Limit = 20,
                   cursor: Cursor = None) -> Timeline:
    return await _read(reads.timeline(deps_of(request).read_pool, principal.store_id, client_id,
                                      limit, cursor))


@router.get("/clients/{client_id}/orders", response_model=OrderList)
async def client_orders(request: Request, principal: Reader, client_id: UUID,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> OrderList:
    """The client's orders, newest first, with their totals and state."""
    return await _read(reads.orders(deps_of(request).read_pool, principal.store_id,
                                    client_id, limit))


@router.get("/clients/{client_id}/audit", response_model=AuditPage)
async def audit(request: Request, principal: Reader, client_id: UUID, limit: Limit = 20,
                cursor: Cursor = None) -> AuditPage:
    return await _read(reads.audit(deps_of(request).read_pool, principal.store_id, client_id,
                                   limit, cursor))


@router.get("/tags", response_model=TagList)
async def tags(request: Request, principal: Reader,
               prefix: Annotated[CleanStr, Query(max_length=255)] = "",
               limit: Limit = 20) -> TagList:
    return await reads.tags(deps_of(request).read_pool, principal.store_id, prefix, limit)


WRITE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": CommandAnswer}, 202: {"model": Accepted}}


async def _command(request: Request, principal: Principal, action: str,
                   command_id: str | None, **fields: Any) -> JSONResponse:
    try:
        command = client_commands.command(principal, action, command_id, **fields)
    except ValidationError as e:
        raise ApiError(422, "the command is not valid",
                       bounded_errors(field_errors(e))) from e
    status, answer = await client_commands.send(deps_of(request), command)
    return JSONResponse(answer.model_dump(mode="json"), status_code=status)


@router.patch("/clients/{client_id}", responses=WRITE_ANSWERS)
async def update_client(request: Request, principal: Writer, client_id: UUID,
                        body: ClientPatch) -> JSONResponse:
    changes = body.model_dump(exclude_unset=True, exclude={"expected_version", "command_id"})
    if not changes:
        raise ApiError(422, "nothing to change", [FieldError(field="body",
                                                             message="no field to change")])
    return await _command(request, principal, "update", body.command_id, client_id=client_id,
                          expected_version=body.expected_version, changes=changes)


@router.post("/clients/bulk/tags", responses=WRITE_ANSWERS)
async def bulk_tag(request: Request, principal: Writer, body: BulkTagChange) -> JSONResponse:
    return await _command(request, principal, "bulk_tag", body.command_id,
                          client_ids=body.client_ids, add=body.add, remove=body.remove)


@router.post("/clients/merge", responses=WRITE_ANSWERS)
async def merge_clients(request: Request, principal: Writer, body: MergeRequest
                        ) -> JSONResponse:
    """Merge the secondary into the primary: its external ids, touches, threads, messages,
    attestations, addresses and orders move to the primary (stats computed again), tags are
    united, notes joined, blank fields filled; the secondary is archived with `merged_into`
    and its email and external ids resolve to the primary from then on."""
    return await _command(request, principal, "merge", body.command_id,
                          client_id=body.primary_id, secondary_id=body.secondary_id,
                          expected_version=body.expected_version)


@router.post("/clients/{client_id}/tags", responses=WRITE_ANSWERS)
async def tag_client(request: Request, principal: Writer, client_id: UUID,
                     body: TagChange) -> JSONResponse:
    return await _command(request, principal, "tag", body.command_id, client_id=client_id,
                          expected_version=body.expected_version, add=body.add,
                          remove=body.remove)


Version = Annotated[int | None, Query(ge=1, description="refused as 409 when the client is "
                                      "at another version")]
CommandId = Annotated[CleanStr | None, Query(min_length=1, max_length=128,
                                        description="idempotency key")]


@router.delete("/clients/{client_id}", responses=WRITE_ANSWERS)
async def archive(request: Request, principal: Deleter, client_id: UUID,
                  expected_version: Version = None, command_id: CommandId = None
                  ) -> JSONResponse:
    return await _command(request, principal, "archive", command_id, client_id=client_id,
                          expected_version=expected_version)


@router.post("/clients/{client_id}/restore", responses=WRITE_ANSWERS)
async def restore(request: Request, principal: Deleter, client_id: UUID,
                  expected_version: Version = None, command_id: CommandId = None
                  ) -> JSONResponse:
    return await _command(request, principal, "restore", command_id, client_id=client_id,
                          expected_version=expected_version)


@router.get("/clients/{client_id}/export", response_model=SubjectAccessBundle)
async def subject_access(request: Request, principal: Exporter, client_id: UUID
                         ) -> SubjectAccessBundle:
    """Everything the store holds about this person, as one JSON bundle (audited)."""
    try:
        return await privacy.bundle(deps_of(request), principal, client_id)
    except privacy.NotFoundError as e:
        raise NOT_FOUND from e


ERASURE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": ErasureAnswer}, 201: {"model": ErasureAnswer}, 202: {"model": Accepted}}


def _answer(status: int, answer: Any) -> JSONResponse:
    body = answer.model_dump(mode="json") if hasattr(answer, "model_dump") else answer
    return JSONResponse(body, status_code=status)


@router.post("/erasure-requests", responses=ERASURE_ANSWERS, status_code=201)
async def request_erasure(request: Request, principal: Eraser, body: ErasureRequestBody
                          ) -> JSONResponse:
    """Archive the client now and erase it after the cool-off (ERASURE_COOL_OFF_S); a
    request already pending for the client is answered as it is (200)."""
    return _answer(*await privacy.erasure_command(
        deps_of(request), principal, "request_erasure", body.command_id,
        client_id=body.client_id, reason=body.reason))


@router.get("/erasure-requests", response_model=ErasureList)
async def list_erasures(request: Request, principal: Eraser,
                        status: ErasureStatus | None = None, limit: Limit = 20
                        ) -> ErasureList:
    return await privacy.list_erasures(deps_of(request).pool, principal.store_id, status,
                                       limit)


@router.get("/erasure-requests/{erasure_id}", response_model=ErasureView)
async def get_erasure(request: Request, principal: Eraser, erasure_id: UUID) -> ErasureView:
    found = await privacy.get_erasure(deps_of(request).pool, principal.store_id, erasure_id)
    if found is None:
        raise ApiError(404, "no such erasure request")
    return found


@router.delete("/erasure-requests/{erasure_id}", responses=ERASURE_ANSWERS)
async def cancel_erasure(request: Request, principal: Eraser, erasure_id: UUID,
                         command_id: CommandId = None) -> JSONResponse:
    """Cancel a pending request before it is due; the client stays archived."""
    try:
        return _answer(*await privacy.cancel_erasure(deps_of(request), principal, erasure_id,
                                                     command_id))
    except privacy.NotFoundError as e:
        raise ApiError(404, "no such erasure request") from e


@router.get("/compliance/ruo", response_model=RuoSettings)
async def get_ruo(request: Request, principal: Reader) -> RuoSettings:
    found = await privacy.ruo_settings(deps_of(request).pool, principal.store_id)
    if found is None:
        raise ApiError(404, "no RUO settings for this store")
    return found


@router.put("/compliance/ruo", response_model=RuoSettings)
async def put_ruo(request: Request, principal: SettingsWriter, body: RuoSettings
                  ) -> RuoSettings:
    deps = deps_of(request)
    return await privacy.set_ruo_settings(deps.pool, principal.store_id, body,
                                          deps.settings.now())


@router.get("/clients/{client_id}/attestations", response_model=AttestationList)
async def list_attestations(request: Request, principal: Reader, client_id: UUID
                            ) -> AttestationList:
    return await _read(privacy.attestations(deps_of(request).read_pool, principal.store_id,
                                            client_id))


@router.get("/clients/{client_id}/attestations/valid", response_model=AttestationValidity)
async def attestation_validity(request: Request, principal: Reader, client_id: UUID
                               ) -> AttestationValidity:
    deps = deps_of(request)
    return await _read(privacy.validity(deps.read_pool, principal.store_id, client_id,
                                        deps.settings.now()))


@router.post("/clients/{client_id}/attestations", status_code=201,
             responses={201: {"model": AttestationView}, 202: {"model": Accepted}})
async def capture_attestation(request: Request, principal: Writer, client_id: UUID,
                              body: AttestationBody) -> JSONResponse:
    try:
        return _answer(*await privacy.capture(deps_of(request), principal, client_id, body))
    except privacy.NotFoundError as e:
        raise NOT_FOUND from e
    except ValueError as e:
        raise ApiError(422, str(e), [FieldError(field="text", message=str(e))]) from e


@router.get("/clients/{client_id}/contacts", response_model=ContactList)
async def list_contacts(request: Request, principal: Reader, client_id: UUID) -> ContactList:
    """The account's contacts, each with the account's status (ACTIVE / BLOCKED)."""
    return await _read(reads.contacts(deps_of(request).read_pool, principal.store_id,
                                      client_id))


@router.post("/clients/{client_id}/contacts", responses=WRITE_ANSWERS)
async def invite_contact(request: Request, principal: Writer, client_id: UUID,
                         body: ContactInvite) -> JSONResponse:
    """A contact under the account (one per email; no password is kept here)."""
    return await _command(request, principal, "invite_contact", body.command_id,
                          client_id=client_id, contact_email=body.email,
                          contact_name=body.name, contact_role=body.role)


@router.patch("/clients/{client_id}/contacts/{contact_id}", responses=WRITE_ANSWERS)
async def change_contact(request: Request, principal: Writer, client_id: UUID,
                         contact_id: UUID, body: ContactChange) -> JSONResponse:
    return await _command(request, principal, "set_contact_role", body.command_id,
                          client_id=client_id, contact_id=contact_id,
                          contact_role=body.role)


@router.delete("/clients/{client_id}/contacts/{contact_id}", responses=WRITE_ANSWERS)
async def remove_contact(request: Request, principal: Writer, client_id: UUID,
                         contact_id: UUID, command_id: CommandId = None) -> JSONResponse:
    return await _command(request, principal, "remove_contact", command_id,
                          client_id=client_id, contact_id=contact_id)


@router.get("/clients/{client_id}/price-overrides", response_model=PriceOverrideList)
async def list_price_overrides(request: Request, principal: Reader, client_id: UUID
                               ) -> PriceOverrideList:
    return await _read(reads.price_overrides(deps_of(request).read_pool, principal.store_id,
                                             client_id))


@router.put("/clients/{client_id}/price-overrides/{product_id}", responses=WRITE_ANSWERS)
async def set_price_override(request: Request, principal: Writer, client_id: UUID,
                             product_id: str, body: PriceOverrideBody) -> JSONResponse:
    """The client's price for one product, in minor units (audited: PriceOverrideSet)."""
    return await _command(request, principal, "set_price_override", body.command_id,
                          client_id=client_id, product_id=product_id,
                          price_minor=body.price_minor, currency=body.currency)


@router.delete("/clients/{client_id}/price-overrides/{product_id}", responses=WRITE_ANSWERS)
async def remove_price_override(request: Request, principal: Writer, client_id: UUID,
                                product_id: str, command_id: CommandId = None
                                ) -> JSONResponse:
    return await _command(request, principal, "remove_price_override", command_id,
                          client_id=client_id, product_id=product_id)


@router.get("/clients/{client_id}/notes", response_model=NoteList)
async def list_notes(request: Request, principal: Reader, client_id: UUID,
                     limit: Annotated[int, Query(ge=1, le=500)] = 100) -> NoteList:
    """The notes log, newest first, each with its author."""
    return await _read(reads.notes(deps_of(request).read_pool, principal.store_id, client_id,
                                   limit))


@router.post("/clients/{client_id}/notes", responses=WRITE_ANSWERS)
async def add_note(request: Request, principal: Writer, client_id: UUID, body: NoteBody
                   ) -> JSONResponse:
    """A note on the client (the result names it: `note_id`)."""
    return await _command(request, principal, "add_note", body.command_id,
                          client_id=client_id, note_text=body.text)


@router.patch("/clients/{client_id}/notes/{note_id}", responses=WRITE_ANSWERS)
async def edit_note(request: Request, principal: Writer, client_id: UUID, note_id: UUID,
                    body: NoteBody) -> JSONResponse:
    return await _command(request, principal, "edit_note", body.command_id,
                          client_id=client_id, note_id=note_id, note_text=body.text)


@router.delete("/clients/{client_id}/notes/{note_id}", responses=WRITE_ANSWERS)
async def remove_note(request: Request, principal: Writer, client_id: UUID, note_id: UUID,
                      command_id: CommandId = None) -> JSONResponse:
    return await _command(request, principal, "remove_note", command_id,
                          client_id=client_id, note_id=note_id)


@router.get("/clients/{client_id}/addresses", response_model=AddressList)
async def list_addresses(request: Request, principal: Reader, client_id: UUID) -> AddressList:
    return await _read(reads.addresses(deps_of(request).read_pool, principal.store_id,
                                       client_id))


ADDRESS_FIELDS = {"type", "is_default", "command_id"}


@router.post("/clients/{client_id}/addresses", responses=WRITE_ANSWERS)
async def add_address(request: Request, principal: Writer, client_id: UUID,
                      body: NewAddress) -> JSONResponse:
    """An equal address of the same type is the one there (unchanged); the result names the
    address (`address_id`)."""
    return await _command(request, principal, "add_address", body.command_id,
                          client_id=client_id, address_type=body.type,
                          is_default=body.is_default,
                          address=body.model_dump(exclude=ADDRESS_FIELDS))


@router.patch("/clients/{client_id}/addresses/{address_id}", responses=WRITE_ANSWERS)
async def update_address(request: Request, principal: Writer, client_id: UUID,
                         address_id: UUID, body: AddressPatch) -> JSONResponse:
    changes = body.model_dump(exclude_unset=True, exclude=ADDRESS_FIELDS)
    return await _command(request, principal, "update_address", body.command_id,
                          client_id=client_id, address_id=address_id, address_type=body.type,
                          is_default=body.is_default, address_changes=changes)


@router.delete("/clients/{client_id}/addresses/{address_id}", responses=WRITE_ANSWERS)
async def remove_address(request: Request, principal: Writer, client_id: UUID,
                         address_id: UUID, command_id: CommandId = None) -> JSONResponse:
    return await _command(request, principal, "remove_address", command_id,
                          client_id=client_id, address_id=address_id)


@router.post("/clients/{client_id}/addresses/{address_id}/default", responses=WRITE_ANSWERS)
async def default_address(request: Request, principal: Writer, client_id: UUID,
                          address_id: UUID, command_id: CommandId = None) -> JSONResponse:
    """Make it its type's default; the old default of that type stops being one."""
    return await _command(request, principal, "default_address", command_id,
                          client_id=client_id, address_id=address_id)


# Master data (seed 001): /v1/customer-types, /v1/customer-segments, /v1/brokers, each the same
# five routes; read with clients:read, changed with settings:write (admins and owners).
def _master_data_routes(path: str, kind: MasterKind) -> None:
    async def list_(request: Request, principal: Reader) -> MasterDataList:
        return await reads.master_data(deps_of(request).read_pool, principal.store_id, kind)

    async def in_use(request: Request, principal: Reader, entry_id: UUID) -> InUse:
        return await _read(reads.in_use(deps_of(request).read_pool, principal.store_id, kind,
                                        entry_id))

    async def create(request: Request, principal: SettingsWriter, body: MasterDataBody
                     ) -> JSONResponse:
        return await _command(request, principal, "create_master_data", body.command_id,
                              master_kind=kind, master_name=body.name)

    async def rename(request: Request, principal: SettingsWriter, entry_id: UUID,
                     body: MasterDataBody) -> JSONResponse:
        return await _command(request, principal, "rename_master_data", body.command_id,
                              master_kind=kind, master_id=entry_id, master_name=body.name)

    async def delete(request: Request, principal: SettingsWriter, entry_id: UUID,
                     command_id: CommandId = None) -> JSONResponse:
        """Refused (409, `in_use`) while clients use it."""
        return await _command(request, principal, "delete_master_data", command_id,
                              master_kind=kind, master_id=entry_id)

    name = kind.replace("_", " ")
    router.add_api_route(path, list_, methods=["GET"], response_model=MasterDataList,
                         summary=f"List the store's {name}s", name=f"list_{kind}s")
    router.add_api_route(f"{path}/{{entry_id}}/in-use", in_use, methods=["GET"],
                         response_model=InUse, summary=f"How many clients use a {name}",
                         name=f"{kind}_in_use")
    router.add_api_route(path, create, methods=["POST"], responses=WRITE_ANSWERS,
                         summary=f"Create a {name}", name=f"create_{kind}")
    router.add_api_route(f"{path}/{{entry_id}}", rename, methods=["PATCH"],
                         responses=WRITE_ANSWERS, summary=f"Rename a {name}",
                         name=f"rename_{kind}")
    router.add_api_route(f"{path}/{{entry_id}}", delete, methods=["DELETE"],
                         responses=WRITE_ANSWERS, summary=f"Delete an unused {name}",
                         name=f"delete_{kind}")


MASTER_DATA_PATHS: tuple[tuple[str, MasterKind], ...] = (
    ("/customer-types", "customer_type"), ("/customer-segments", "customer_segment"),
    ("/brokers", "broker"))
for _path, _kind in MASTER_DATA_PATHS:
    _master_data_routes(_path, _kind)
