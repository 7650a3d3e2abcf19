"""The signing conversation (FlowId.LETTER) and the letter commands.

「簽署合作意向書」 -> the company from the eligibility intake prefills what it knows; the flow asks
only what is missing (聯絡人, 手機, 電話, E-mail, 地址, 代表人), shows the letter (a card plus a
link to the full text), asks for explicit consent to sections 三–七, and for the signature: the
representative's full name typed exactly, or a drawing on the sign page opened from the chat.
``finish`` writes the signed version in the dispatcher's transaction; the confirmation is a reply
queued in that same transaction, so it is sent only after the commit. Then the flow offers to
attach a photo of the stamped paper page (公司大小章).
"""
from __future__ import annotations


from bot.messages import Card, Choice, Text
from bot.services import audit, find_user
from bot.texts import t
from bot.timeutil import format_roc_datetime
from companies import service as companies
from campaign import service as campaign_service
from companies.models import Company
from companies.service import latest_company_of_user
from dialogs import framework as fw
from dialogs.parsing import is_non_answer, is_unsure
from dialogs.registry import command, register_flow, set_menu_for
from eligibility.taxid import normalize_tax_id, tax_id_problem
from letters import document as doc
from letters import links, service
from letters.models import Letter

FLOW_ID = fw.FlowId.LETTER


def _config(ctx: fw.Context) -> dict:
    if ctx.services is not None:
        return ctx.services.config
    return {"PUBLIC_BASE_URL": "", "SECRET_KEY": "offline", "PROGRAMS_FILE": ""}


def _campaign(ctx: fw.Context) -> dict:
    return doc.campaign_settings(_config(ctx), ctx.data.get("program_id") or "gonghao-2023")


def _employees_field(ctx: fw.Context) -> dict:
    """The programme's employees field (programs.yaml eligibility), as the intake asked it."""
    program = (ctx.services.programs if ctx.services is not None else {}).get(ctx.data.get("program_id") or "gonghao-2023")
    return dict(program.fields.get("employees") or {}) if program is not None else {}


def _signing(ctx: fw.Context) -> bool:
    """Before the letter is signed (afterwards only the photo step remains)."""
    return "letter_id" not in ctx.data


def _label(name: str) -> str:
    return doc.template()["labels"][name]


def _store(ctx: fw.Context, name: str, value, **extra) -> fw.Context:
    ctx = ctx.with_answer(name, value)
    return ctx.evolve(data={**ctx.data, **extra})


def _wrap(parser):
    """A document parser as a step parser: FieldError -> fw.Invalid (zh-TW message)."""
    def parse(ctx: fw.Context, user_input: fw.UserInput):
        try:
            return parser(ctx, user_input.answer_text)
        except doc.FieldError as error:
            raise fw.Invalid(error.message) from None
    return parse


def _ask(key: str, *choices_of):
    def ask(ctx: fw.Context):
        return [Text(t(f"letters.{key}"), tuple(choice(ctx) for choice in choices_of))]
    return ask


# --- the fields ---------------------------------------------------------------------------------

def _parse_tax_id(ctx, text):
    if is_non_answer(text) or is_unsure(text):
        # 「沒有」「不知道」: the letter's form needs the number, so say where to find it (稅籍登記查詢).
        raise doc.FieldError(t("letters.tax_id_where"))
    problem = tax_id_problem(text)
    if problem:
        raise doc.FieldError(problem)
    return normalize_tax_id(text)


def _parse_registration(ctx, text):
    value = doc.normalize(text)
    if value in ("registered", t("letters.registration_registered")) or any(w in value for w in ("公司", "商業", "行號")):
        return "registered"
    if value in ("tax_only", t("letters.registration_tax_only")) or "稅籍" in value:
        return "tax_only"
    raise doc.FieldError(t("letters.invalid_registration"))


def _ask_registration(ctx):
    return [Text(t("letters.ask_registration"), (
        ctx.choice(t("letters.registration_registered"), "registered"),
        ctx.choice(t("letters.registration_tax_only"), "tax_only")))]


def _ask_phone(ctx):
    items = (Choice(t("letters.phone_same_as_mobile")),) if ctx.data.get("mobile") else ()
    return [Text(t("letters.ask_phone"), (*items, Choice(t("core.nav_back")), Choice(t("core.nav_cancel"))))]


def _field_step(name: str, ask, parser, **kwargs) -> fw.Step:
    return fw.Step(name, _label(name), ask, _wrap(parser), when=_signing,
                   display=lambda ctx, value, name=name: doc.field_value(name, ctx.data) or "—", **kwargs)


# An address that looks like a slip of a common mail service, waiting for the signer to choose.
EMAIL_UNSURE = "_email_unsure"


def _store_email(ctx: fw.Context, email: str) -> fw.Context:
    """A likely slip (「gmial.com」) is asked about once; the same address typed or tapped again is
    the signer's and is kept."""
    data = {k: v for k, v in ctx.data.items() if k != EMAIL_UNSURE}
    if doc.likely_email_typo(email) and ctx.data.get(EMAIL_UNSURE) != email:
        return ctx.evolve(data={**data, EMAIL_UNSURE: email})
    return ctx.evolve(data=data).with_answer("email", email)


def _email_options(typed: str) -> tuple[tuple[str, str], ...]:
    """(label, address) of the two answers to 「是不是…？」: the corrected address, or the one typed.
    Labels are cut at LINE's 20 characters, so the first names the domain only."""
    suggested = doc.likely_email_typo(typed) or typed
    return ((t("letters.email_use_suggested", domain=suggested.rpartition("@")[2])[:20], suggested),
            (t("letters.email_keep_typed"), typed))


def _parse_email(ctx: fw.Context, text: str) -> str:
    typed = ctx.data.get(EMAIL_UNSURE)
    # A choice's words typed instead of tapped are that choice.
    chosen = [address for label, address in _email_options(typed) if fw.squash(label) == fw.squash(text)] \
        if typed else []
    return chosen[0] if chosen else doc.parse_email(text)


def _ask_email(ctx: fw.Context):
    typed = ctx.data.get(EMAIL_UNSURE)
    if not typed:
        return _ask("ask_email")(ctx)
    options = _email_options(typed)
    return [Text(t("letters.ask_email_typo", typed=typed, suggested=options[0][1]), (
        *(ctx.choice(label, address) for label, address in options),
        Choice(t("core.nav_back")), Choice(t("core.nav_cancel"))))]


FIELD_STEPS = (
    _field_step("company_name", _ask("ask_company_name"), lambda ctx, text: doc.parse_company_name(text)),
    _field_step("tax_id", _ask("ask_tax_id"), _parse_tax_id),
    _field_step("registration", _ask_registration, _parse_registration),
    _field_step("employees", _ask("ask_employees"),
                lambda ctx, text: doc.parse_employees(text, most=_employees_field(ctx).get("max_plausible"))),
    # Not in the letter: 附件一 預定輔導企業彙總表 needs it, so ask once when the intake did not.
    fw.Step("main_product", t("letters.main_product_label"), _ask("ask_main_product"),
            _wrap(lambda ctx, text: doc.parse_main_product(text)), when=_signing),
    _field_step("contact_name", _ask("ask_contact_name"), lambda ctx, text: doc.parse_person_name(text)),
    _field_step("mobile", _ask("ask_mobile"), lambda ctx, text: doc.parse_mobile(text)),
    _field_step("phone", _ask_phone, lambda ctx, text: doc.parse_phone(text, mobile=ctx.data.get("mobile"))),
    _field_step("email", _ask_email, _parse_email, store=_store_email, pending=(EMAIL_UNSURE,)),
    _field_step("address", _ask("ask_address"), lambda ctx, text: doc.parse_address(text),
                accepts=frozenset({"text", "postback", "location"})),
    _field_step("representative", _ask("ask_representative"), lambda ctx, text: doc.parse_person_name(text)),
)


# --- showing the letter --------------------------------------------------------------------------

def _ask_review(ctx: fw.Context):
    campaign = _campaign(ctx)
    config = _config(ctx)
    rows = tuple((_label(name), doc.field_value(name, ctx.data) or "—") for name in doc.FIELDS)
    edits = tuple(ctx.choice(t("letters.review_edit", label=_label(name)), f"edit:{name}") for name in doc.FIELDS)
    url = links.draft_url(config, user_id=ctx.user_id, session_id=ctx.session_id)
    return [Card(
        title=(t("campaign.letter_mark") if campaign.get("demo") else "") + t("letters.review_title"), rows=rows,
        body=t("letters.review_body", adoption_deadline=campaign.get("adoption_deadline", ""),
               provider=campaign.get("provider", ""), usage_period=campaign.get("usage_period", "")),
        buttons=(Choice(t("letters.review_full_text"), kind="uri", uri=url),),
        note=t("letters.review_hint"),
        quick_replies=(ctx.choice(t("letters.review_ok"), "ok"), *edits, Choice(t("core.nav_cancel"))))]


def _parse_review(ctx: fw.Context, user_input: fw.UserInput) -> str:
    answer = user_input.answer_text.strip()
    if answer == "ok" or answer.startswith("edit:") and answer[5:] in doc.FIELDS:
        return answer
    text = fw.squash(answer)
    if text in {fw.squash(t("letters.review_ok")), "正確", "確認", "沒問題", "ok", "對", "好", "確定"}:
        return "ok"
    wanted = text.removeprefix("修改").removeprefix("改")
    for name in doc.FIELDS:
        if wanted and fw.squash(_label(name)) == wanted:
            return f"edit:{name}"
    raise fw.Invalid(t("letters.invalid_review"))


def _store_review(ctx: fw.Context, value: str) -> fw.Context:
    if value == "ok":
        return _store(ctx, "review", True, viewed_at=ctx.now.isoformat())
    return ctx.without_answer(value[5:])  # ask that field again, then show the letter again


def _ask_consent(ctx: fw.Context):
    return [Text(t("letters.ask_consent", sections=doc.consent_text()),
                 (ctx.choice(t("letters.consent_agree"), "yes"), ctx.choice(t("letters.consent_decline"), "no")))]


def _parse_consent(ctx: fw.Context, user_input: fw.UserInput) -> bool:
    answer = fw.squash(user_input.answer_text)
    if answer in {"yes", fw.squash(t("letters.consent_agree")), "同意", "好", "可以", "ok"}:
        return True
    if answer in {"no", fw.squash(t("letters.consent_decline")), "不要"}:
        return False
    raise fw.Invalid(t("letters.invalid_consent"))


def _store_consent(ctx: fw.Context, agreed: bool) -> fw.Context:
    if not agreed:
        return ctx.with_answer("consent", False)
    return _store(ctx, "consent", True, consented_at=ctx.now.isoformat(), consent_sha256=doc.consent_sha256())


def _ask_sign(ctx: fw.Context):
    name = ctx.data.get("representative", "")
    if ctx.repeat:  # the signing card is right above: say only what to type
        return [Text(t("letters.sign_prompt", name=name))]
    url = links.sign_url(_config(ctx), user_id=ctx.user_id, session_id=ctx.session_id)
    return [Card(title=t("letters.sign_title"), body=t("letters.sign_body", name=name),
                 buttons=(Choice(t("letters.sign_page_button"), kind="uri", uri=url),)),
            Text(t("letters.sign_prompt", name=name))]


def same_name(typed: str, representative: str) -> bool:
    """The typed signature matches the representative's name (spaces and width ignored)."""
    return bool(representative) and doc.normalize(typed).replace(" ", "") == doc.normalize(representative).replace(" ", "")


def _parse_sign(ctx: fw.Context, user_input: fw.UserInput) -> dict:
    name = ctx.data.get("representative", "")
    if same_name(user_input.answer_text, name):
        return {"method": "typed", "name": name}
    raise fw.Invalid(t("letters.invalid_sign", name=name))


def _ask_photo(ctx: fw.Context):
    return [Text(t("letters.ask_photo"), (
        Choice(t("letters.photo_camera"), kind="camera"), Choice(t("letters.photo_roll"), kind="cameraRoll"),
        ctx.choice(t("letters.photo_skip"), "skip")))]


def _parse_photo(ctx: fw.Context, user_input: fw.UserInput):
    if user_input.kind == "image" and user_input.message_id:
        return {"message_id": user_input.message_id}
    if fw.squash(user_input.answer_text) in {"skip", fw.squash(t("letters.photo_skip")), "不用", "稍後", "沒有", "不用了"}:
        return "skip"
    raise fw.Invalid(t("letters.invalid_photo"))


# --- finishing ----------------------------------------------------------------------------------

def _done(ctx: fw.Context) -> fw.Context:
    return ctx.cleared().forget("letter_prefill")


def display_name_of(session, user_id: str) -> str | None:
    """The signer's LINE display name, as stored on the user after they consented
    (core_flows.store_display_name). Never fetched here: signing runs inside a write
    transaction, and a LINE call there would hold the database's write lock."""
    user = find_user(session, user_id)
    return (user.display_name or None) if user is not None else None


def complete_signing(*, session, services, ctx: fw.Context, signature: service.Signature) -> fw.Turn:
    """Write the signed version for the conversation in ``ctx`` (chat or sign page) and return the
    turn that confirms it and asks for the stamped-page photo. Runs in the caller's transaction."""
    data = ctx.data
    company = session.get(Company, data["company_id"]) if data.get("company_id") else None
    company = company or latest_company_of_user(session, line_user_id=ctx.user_id)
    if company is None or not companies.is_member(session, company_id=company.id, line_user_id=ctx.user_id):
        # Only a member signs for a company (issue 18); the chat offers signing to members only,
        # so this is a conversation whose signer no longer speaks for the company.
        audit(session, actor=ctx.user_id, action="letter_sign_refused",
              target=f"company:{company.id}" if company else None)
        return fw.Turn(_done(ctx), [Text(t("letters.status_none"))], show_menu=True)
    config = services.config
    campaign = doc.campaign_settings(config, company.program_id)
    try:
        letter, version = service.sign_letter(
            session, company=company, line_user_id=ctx.user_id,
            display_name=display_name_of(session, ctx.user_id),
            fields={name: data.get(name) for name in doc.FIELDS}, campaign=campaign, signature=signature,
            consent_sha256=data.get("consent_sha256") or doc.consent_sha256(),
            timeline={key: data.get(key) for key in ("started_at", "viewed_at", "consented_at")}, now=ctx.now)
    except service.TaxIdNotTheCompanys:
        # Refused before anything is written. The other company is never named; the 統編 is asked
        # again, and the letter reviewed and agreed to again with it.
        audit(session, actor=ctx.user_id, action="letter_tax_id_refused", target=f"company:{company.id}")
        again = ctx
        for name in ("tax_id", "review", "consent", "sign"):
            again = again.without_answer(name)
        return fw.current_question(LETTER_FLOW, again.evolve(step=None), [Text(t("letters.tax_id_not_yours"))])
    if data.get("main_product") and not company.main_product:
        company.main_product = data["main_product"]
        session.add(company)
    audit(session, actor=ctx.user_id, action="letter_signed", target=f"letter:{letter.id}",
          version=version.version_no, sha256=version.sha256, channel=signature.channel)
    url = links.pdf_url(config, letter_id=letter.id, version_id=version.id, user_id=ctx.user_id)
    card = Card(title=(t("campaign.letter_mark") if campaign.get("demo") else "") + t("letters.signed_title"),
                body=t("letters.signed_body", company=data.get("company_name") or company.name or "",
                       version=version.version_no, days=links.link_days(config)),
                buttons=(Choice(t("letters.signed_download"), kind="uri", uri=url),))
    after = _done(ctx).evolve(flow=FLOW_ID.value, session_id=ctx.session_id,
                              data={"letter_id": letter.id, "version_id": version.id})
    return fw.current_question(LETTER_FLOW, after, [card])


def _finish(request) -> fw.Turn:
    ctx = request.ctx
    if ctx.data.get("consent") is False:
        return fw.Turn(_done(ctx), [Text(t("letters.consent_declined"))], show_menu=True)
    if "letter_id" in ctx.data:
        return _finish_photo(request)
    sign = ctx.data.get("sign") or {}
    return complete_signing(session=request.session, services=request.services, ctx=ctx,
                            signature=service.Signature(signed_name=sign.get("name", ""), channel="chat", method="typed"))


def _finish_photo(request) -> fw.Turn:
    ctx = request.ctx
    photo = ctx.data.get("photo")
    letter = service.lock_letter(request.session, letter_id=ctx.data["letter_id"])
    if photo == "skip" or not isinstance(photo, dict) or letter is None:
        return fw.Turn(_done(ctx), [Text(t("letters.photo_skipped"))], show_menu=True)
    content = request.photo_content(photo["message_id"])
    if not content:
        return fw.current_question(LETTER_FLOW, ctx.without_answer("photo"), [Text(t("letters.photo_failed"))])
    service.attach_photo(request.session, letter=letter, content=content, actor=ctx.user_id,
                         line_message_id=photo["message_id"], now=ctx.now)
    audit(request.session, actor=ctx.user_id, action="letter_photo_attached", target=f"letter:{letter.id}")
    return fw.Turn(_done(ctx), [Text(t("letters.photo_attached"))], show_menu=True)


def _prefill(ctx: fw.Context) -> dict:
    return {**ctx.memory.get("letter_prefill", {}), "started_at": ctx.now.isoformat()}


LETTER_FLOW = register_flow(fw.Flow(
    id=FLOW_ID,
    title=t("letters.flow_title"),
    help=t("letters.flow_help"),
    steps=(
        *FIELD_STEPS,
        fw.Step("review", t("letters.review_title"), _ask_review, _parse_review, when=_signing, store=_store_review),
        fw.Step("consent", t("letters.consent_agree"), _ask_consent, _parse_consent, when=_signing,
                store=_store_consent),
        fw.Step("sign", t("letters.sign_title"), _ask_sign, _parse_sign, when=_signing),
        fw.Step("photo", t("letters.menu_photo"), _ask_photo, _parse_photo,
                when=lambda ctx: "letter_id" in ctx.data, accepts=frozenset({"text", "postback", "image"})),
    ),
    finish=_finish,
    summary=False,
    requires_consent=True,
    settled=lambda ctx: ctx.data.get("consent") is False,
    prefill=_prefill,
    slow_finish=True,
))


# --- commands -----------------------------------------------------------------------------------

def _eligibility_choice() -> Choice:
    return Choice(t("core.menu_eligibility"))


def _letter_actions() -> tuple[Choice, ...]:
    return (Choice(t("letters.menu_correct")), Choice(t("letters.menu_withdraw")), Choice(t("letters.menu_photo")))


def _begin(request, company: Company, *, previous=None, lead: list | None = None) -> fw.Turn:
    """Start the flow with what is already known (intake, or the version being corrected)."""
    prefill: dict = {"company_id": company.id, "program_id": company.program_id}
    known = {"company_name": company.name, "tax_id": company.tax_id,
             "registration": doc.registration_kind(company.registration), "employees": company.employees,
             "main_product": company.main_product}
    if previous is not None:
        known.update({k: v for k, v in service.version_content(previous)["fields"].items() if v not in (None, "")})
    prefill.update({k: v for k, v in known.items() if v not in (None, "")})
    return fw.Turn(request.ctx.remember(letter_prefill=prefill), list(lead or []), start_flow=FLOW_ID.value)


def _status_card(request, letter: Letter) -> Card:
    session = request.session
    version = service.current_version(session, letter=letter)
    company = session.get(Company, letter.company_id)
    url = links.pdf_url(request.services.config, letter_id=letter.id, version_id=version.id, user_id=request.ctx.user_id)
    photo = service.has_photo(session, letter_id=letter.id)
    return Card(
        title=t("letters.status_title"),
        rows=((t("letters.status_company"), company.name if company else ""),
              (t("letters.status_version"), str(version.version_no)),
              (t("letters.status_signed_at"), format_roc_datetime(version.signed_at)),
              (t("letters.status_photo"), t("letters.status_photo_yes" if photo else "letters.status_photo_no"))),
        buttons=(Choice(t("letters.signed_download"), kind="uri", uri=url),),
        quick_replies=_letter_actions())


def _my_letter(request) -> Letter | None:
    letters = service.letters_of_user(request.session, line_user_id=request.ctx.user_id)
    return letters[0] if letters else None


@command("letter", "簽署合作意向書", "意向書", "簽意向書", "簽署意向書", "合作意向書", "企業合作意向書")
def start_letter(request) -> fw.Turn:
    ctx, session = request.ctx, request.session
    company = latest_company_of_user(session, line_user_id=ctx.user_id)
    if company is None and companies.requests_of_user(session, line_user_id=ctx.user_id, status=companies.PENDING):
        # Asked to join a registered company: nothing of it until a member says yes.
        return fw.Turn(ctx, [Text(t("companies.join_pending"))], show_menu=True)
    if company is None:
        return fw.Turn(ctx, [Text(t("letters.no_company"), (_eligibility_choice(), Choice(t("core.menu_faq"))))])
    if company.verdict != "eligible":
        verdict = t(f"letters.verdict_{company.verdict}") if company.verdict in ("ineligible", "needs_review") \
            else t("letters.verdict_unknown")
        return fw.Turn(ctx, [Text(t("letters.not_eligible", verdict=verdict), (_eligibility_choice(),))])
    if not doc.campaign_settings(request.services.config, company.program_id).get("letter_of_intent"):
        return fw.Turn(ctx, [Text(t("letters.not_offered"))], show_menu=True)
    if not campaign_service.letters_open(request.services.config, company.program_id):
        # Production on example values: no legal document may name an example company.
        notice = campaign_service.staff_notice(request.services.config) if "staff" in ctx.roles else None
        return fw.Turn(ctx, [Text(notice or t("campaign.letters_not_open"))], show_menu=True)
    letter = service.letter_of_company(session, company_id=company.id)
    if letter is not None and letter.status == "signed":
        version = service.current_version(session, letter=letter)
        text = t("letters.already_signed", company=company.name or "", version=version.version_no,
                 signed_at=format_roc_datetime(version.signed_at))
        return fw.Turn(ctx, [Text(text), _status_card(request, letter)])
    previous = service.current_version(session, letter=letter) if letter else None
    return _begin(request, company, previous=previous)


@command("letter_status", "我的意向書", "下載意向書", "意向書狀態", "查看意向書")
def letter_status(request) -> fw.Turn:
    letter = _my_letter(request)
    if letter is None or letter.current_version_id is None:
        return fw.Turn(request.ctx, [Text(t("letters.status_none"))], show_menu=True)
    if letter.status == "withdrawn":
        return fw.Turn(request.ctx, [Text(t("letters.status_withdrawn", at=format_roc_datetime(letter.withdrawn_at)))],
                       show_menu=True)
    return fw.Turn(request.ctx, [_status_card(request, letter)])


@command("letter_correct", "修改意向書", "更正意向書", "修正意向書")
def correct_letter(request) -> fw.Turn:
    letter = _my_letter(request)
    if letter is None or letter.status != "signed":
        return fw.Turn(request.ctx, [Text(t("letters.status_none"))], show_menu=True)
    company = request.session.get(Company, letter.company_id)
    return _begin(request, company, previous=service.current_version(request.session, letter=letter),
                  lead=[Text(t("letters.correct_intro"))])


def _deadline_text(request, letter: Letter) -> tuple[str, bool]:
    campaign = doc.campaign_settings(request.services.config, letter.program_id)
    deadline = campaign.get("proposal_deadline")
    if not deadline:
        return "", True
    moment = doc.parse_roc_datetime(deadline)
    return format_roc_datetime(moment), request.ctx.now <= moment


@command("letter_withdraw", "撤回意向書", "取消意向書")
def withdraw_letter(request) -> fw.Turn:
    letter = _my_letter(request)
    if letter is None or letter.status != "signed":
        return fw.Turn(request.ctx, [Text(t("letters.status_none"))], show_menu=True)
    deadline, open_ = _deadline_text(request, letter)
    if not open_:
        return fw.Turn(request.ctx, [Text(t("letters.withdraw_closed", deadline=deadline))], show_menu=True)
    company = request.session.get(Company, letter.company_id)
    return fw.Turn(request.ctx, [Text(t("letters.withdraw_confirm", company=company.name or "", deadline=deadline),
                                      (Choice(t("letters.withdraw_yes")), Choice(t("letters.withdraw_no"))))])


@command("letter_withdraw_confirm", "確定撤回意向書")
def confirm_withdraw(request) -> fw.Turn:
    letter = _my_letter(request)
    if letter is None or letter.status != "signed":
        return fw.Turn(request.ctx, [Text(t("letters.status_none"))], show_menu=True)
    letter = service.lock_letter(request.session, letter_id=letter.id)
    campaign = doc.campaign_settings(request.services.config, letter.program_id)
    try:
        service.withdraw_letter(request.session, letter=letter, actor=request.ctx.user_id, campaign=campaign,
                                now=request.ctx.now)
    except service.WithdrawalClosed:
        deadline, _ = _deadline_text(request, letter)
        return fw.Turn(request.ctx, [Text(t("letters.withdraw_closed", deadline=deadline))], show_menu=True)
    audit(request.session, actor=request.ctx.user_id, action="letter_withdrawn", target=f"letter:{letter.id}")
    company = request.session.get(Company, letter.company_id)
    return fw.Turn(request.ctx, [Text(t("letters.withdraw_done", company=company.name or ""))], show_menu=True)


@command("letter_withdraw_keep", "先不要撤回")
def keep_letter(request) -> fw.Turn:
    return fw.Turn(request.ctx, [Text(t("letters.withdraw_kept"))], show_menu=True)


@command("letter_photo", "傳用印頁", "上傳用印頁", "補傳用印頁", "用印頁")
def photo_letter(request) -> fw.Turn:
    letter = _my_letter(request)
    if letter is None or letter.status != "signed":
        return fw.Turn(request.ctx, [Text(t("letters.photo_no_letter"))], show_menu=True)
    ctx = request.ctx.evolve(flow=FLOW_ID.value, session_id=fw.new_session_id(), step=None, history=(),
                             data={"letter_id": letter.id, "version_id": letter.current_version_id})
    return fw.current_question(LETTER_FLOW, ctx)


SIGNED_MENU = ("progress", "booking", "kpis", "checkup", "reminders", "faq", "my_data", "staff")


@set_menu_for
def signed_owner_menu(session, user_id: str):
    """Someone who speaks for a shop whose letter is signed: the menu has what the months after it
    ask of them (進度, 訪視, 績效, 健檢, 提醒) instead of 「我符合資格嗎？」「簽署合作意向書」, done
    already; 「簽署合作意向書」 typed still shows their signed letter."""
    from sqlmodel import select

    from companies.models import CompanyMember

    signed = session.exec(select(Company.id).join(CompanyMember, CompanyMember.company_id == Company.id).where(
        CompanyMember.line_user_id == user_id, Company.letter_status == "signed",
        Company.status == "active").limit(1)).first()
    return tuple(Choice(t(f"core.menu_{key}")) for key in SIGNED_MENU) if signed is not None else None
