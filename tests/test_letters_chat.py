"""Letters of intent end to end: the signing conversation through the real SDK and fake LINE."""
from __future__ import annotations

import base64

import requests
from sqlmodel import select

from bot.models import Conversation, OutboundMessage
from bot.texts import t
from companies.models import Company, CompanyMember
from letters import document, service
from letters.models import Letter, LetterAttachment, LetterEvent, LetterVersion
from tests.conftest import joined
from tests.conftest import eventually  # noqa: E402

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200 + b"\xff\xd9"




def make_company(app, user_id: str, *, verdict: str = "eligible", **fields) -> int:
    values = {"tax_id": "04595257", "name": "小明商行", "registration": "business", "employees": 3,
              "main_product": "手搖飲", "verdict": verdict, "answers": {"prior_funding": []}}
    values.update(fields)
    with app.extensions["bot"].database.session() as session:
        company = Company(**values)
        session.add(company)
        session.flush()
        session.add(CompanyMember(company_id=company.id, line_user_id=user_id))
        return company.id


def owner_with_company(app, chat, **fields) -> int:
    """A following owner whose company passed the eligibility check; the company's id."""
    chat.follow()
    return make_company(app, chat.user_id, **fields)


def start_and_fill(chat) -> None:
    """From 「簽署合作意向書」 to the review card (consent to the privacy statement included)."""
    texts = chat.say("簽署合作意向書")
    assert "個人資料" in joined(texts)
    chat.tap("同意")
    chat.say("王小明")
    chat.say("0912-345-678")
    chat.say("02-2345-6789#12")
    chat.say("shop@example.com")
    chat.say("台北市大同區承德路二段239號")
    texts = chat.say("王大明")
    assert "請確認意向書內容" in joined(texts)


def agree_to_letter(chat) -> list[str]:
    """On the review card: the letter is right, and the owner agrees to sections 三–七."""
    chat.tap("內容正確")
    return chat.tap("我同意")


def sign_in_chat(chat) -> list[str]:
    start_and_fill(chat)
    agree_to_letter(chat)
    return chat.say("王大明")


def test_owner_signs_in_chat_and_attaches_stamped_photo(app, chat, fake_line):
    company_id = owner_with_company(app, chat)
    texts = chat.say("簽署合作意向書")
    assert "個人資料" in joined(texts)
    texts = chat.tap("同意")
    assert "聯絡人" in joined(texts)
    assert "統一編號" not in joined(texts)  # prefilled from the intake: not asked again
    chat.say("王小明")
    texts = chat.say("1234")
    assert "09 開頭" in joined(texts)
    chat.say("0912-345-678")
    texts = chat.say("2345")
    assert "區碼" in joined(texts)
    assert "同手機" in chat.labels()
    chat.say("02-2345-6789#12")
    texts = chat.say("shop at example")
    assert "E-mail 格式" in joined(texts)
    chat.say("shop@example.com")
    texts = chat.say("大同區")
    assert "縣市" in joined(texts)
    chat.say("台北市大同區承德路二段239號")
    texts = chat.say("王大明")
    review = joined(texts)
    for expected in ("小明商行", "04595257", "王小明", "0912345678", "02-2345-6789#12", "王大明", "112/07/31"):
        assert expected in review
    assert "看完整意向書" in chat.labels()
    draft_link = next(a["uri"] for a in chat.actions() if a.get("type") == "uri")
    page = requests.get(draft_link, timeout=5)
    assert page.status_code == 200 and "不得於當年度同時接受經濟部中小企業處其他計畫輔導" in page.text

    # edit one field from the review: asked again, then the letter again
    texts = chat.tap("改電話")
    assert "區碼" in joined(texts)
    texts = chat.say("(04)2234-5678")
    assert "04-2234-5678" in joined(texts) and "請確認意向書內容" in joined(texts)

    texts = chat.tap("內容正確")
    assert "三、參與本計畫之企業" in joined(texts) and "七、個人資料蒐集與利用聲明" in joined(texts)
    texts = chat.tap("我同意")
    assert "王大明" in joined(texts) and "在網頁上手寫簽名" in chat.labels()
    texts = chat.say("王小明")
    assert "一字不差" in joined(texts)
    assert len(texts) == 2  # why, and what to type: the signing card is not sent again
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(Letter)).first() is None  # nothing signed yet
    texts = chat.say("王 大明")
    assert "簽署完成" in joined(texts)
    assert "下載意向書 PDF" in chat.labels() and "略過" in chat.labels()
    pdf_link = next(a["uri"] for a in chat.actions() if a.get("type") == "uri")

    fake_line.contents["img-1"] = (JPEG, "image/jpeg")
    texts = chat.send("image", message_id="img-1")
    assert "用印頁照片已附" in joined(texts)

    with app.extensions["bot"].database.session() as session:
        letter = session.exec(select(Letter)).one()
        version = session.get(LetterVersion, letter.current_version_id)
        company = session.get(Company, company_id)
        kinds = [e.kind for e in service.events_of(session, letter_id=letter.id)]
        photo = session.exec(select(LetterAttachment)).one()
        assert letter.status == "signed" and company.letter_status == "signed"
        assert (company.county, company.township) == ("臺北市", "大同區")
        assert version.channel == "chat" and version.signed_name == "王大明"
        assert version.signer_display_name  # from the LINE profile
        content = service.version_content(version)
        assert content["fields"]["phone"] == "04-2234-5678"
        assert content["consent_sha256"] == version.consent_sha256
        assert kinds == ["started", "viewed", "consented", "signed", "photo_attached"]
        assert photo.content == JPEG and photo.letter_id == letter.id
        assert service.verify_letter(session, letter=letter) == []

    response = requests.get(pdf_link, timeout=30)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert requests.get(pdf_link.rstrip("x") + "x", timeout=5).status_code == 410  # forged token


def test_no_company_or_not_eligible_points_to_the_eligibility_check(app, chat):
    chat.follow()
    texts = chat.say("簽意向書")
    assert "資格" in joined(texts) and "我符合資格嗎？" in chat.labels()
    make_company(app, chat.user_id, verdict="ineligible")
    texts = chat.say("意向書")
    assert "不符合" in joined(texts) and "我符合資格嗎？" in chat.labels()


def test_declining_the_clauses_signs_nothing(app, chat):
    owner_with_company(app, chat)
    start_and_fill(chat)
    chat.tap("內容正確")
    texts = chat.tap("不同意")
    assert "無法簽署" in joined(texts)
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(Letter)).first() is None


def test_question_mid_flow_goes_to_faq_and_flow_resumes(app, chat):
    owner_with_company(app, chat)
    chat.say("簽署合作意向書")
    chat.tap("同意")
    texts = chat.say("意向書什麼時候要交呢？")
    assert "聯絡人" in joined(texts)  # asked again after the FAQ answer
    texts = chat.say("王小明")
    assert "手機" in joined(texts)


def test_sign_page_signs_with_a_drawn_signature_once(app, chat, fake_line):
    owner_with_company(app, chat)
    start_and_fill(chat)
    agree_to_letter(chat)
    sign_link = next(a["uri"] for a in chat.actions() if a.get("type") == "uri")
    page = requests.get(sign_link, timeout=5)
    assert page.status_code == 200 and "canvas" in page.text
    png = "data:image/png;base64," + base64.b64encode(_png()).decode()
    wrong = requests.post(sign_link, data={"signed_name": "王小明", "signature": png}, timeout=10)
    assert wrong.status_code == 422
    done = requests.post(sign_link, data={"signed_name": "王大明", "signature": png}, timeout=30,
                         headers={"User-Agent": "TestBrowser/1.0"})
    assert done.status_code == 200 and "簽署完成" in done.text
    assert eventually(lambda: any("簽署完成" in t for t in fake_line.texts_for(chat.user_id)))
    again = requests.post(sign_link, data={"signed_name": "王大明", "signature": png}, timeout=10)
    assert again.status_code == 410  # one-time
    with app.extensions["bot"].database.session() as session:
        version = session.exec(select(LetterVersion)).one()
        assert version.channel == "sign_page" and version.user_agent == "TestBrowser/1.0" and version.ip
        assert version.signature_png == _png()
    texts = chat.say("略過")  # the photo question came as a push after the page was submitted
    assert "傳用印頁" in joined(texts)


def _png() -> bytes:
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (120, 40), "white")
    ImageDraw.Draw(image).line((5, 30, 60, 5, 115, 30), fill="black", width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_crash_while_signing_leaves_nothing_then_the_retry_signs_once(app, chat, fake_line, monkeypatch):
    owner_with_company(app, chat)
    start_and_fill(chat)
    agree_to_letter(chat)
    import letters.flows as flows

    real_audit = flows.audit
    calls = {"n": 0}

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("simulated crash after the version was written")
        return real_audit(*args, **kwargs)

    monkeypatch.setattr(flows, "audit", crash_once)
    runtime = app.extensions["bot"]
    texts = chat.say("王大明")
    assert not any("簽署完成" in t for t in texts)
    with runtime.database.session() as session:
        assert session.exec(select(LetterVersion)).first() is None
        assert session.exec(select(LetterEvent)).first() is None
        assert not any("簽署完成" in str(row.messages) for row in session.exec(select(OutboundMessage)).all())
    runtime.worker.sweep(min_age=0)
    assert runtime.worker.wait_idle(10)
    assert eventually(lambda: sum("簽署完成" in t for t in fake_line.texts_for(chat.user_id)) == 1)
    with runtime.database.session() as session:
        assert len(session.exec(select(LetterVersion)).all()) == 1


def test_correction_supersedes_and_withdrawal_respects_the_deadline(app, chat):
    company_id = owner_with_company(app, chat)
    sign_in_chat(chat)
    chat.tap("略過")
    texts = chat.say("意向書")
    assert "已經簽署" in joined(texts) and "修改意向書" in chat.labels()

    texts = chat.say("修改意向書")
    assert "新版本" in joined(texts) and "請確認意向書內容" in joined(texts)
    chat.tap("改E-mail")
    chat.say("boss@example.com.tw")
    agree_to_letter(chat)
    texts = chat.say("王大明")
    assert "第 2 版" in joined(texts)
    chat.tap("略過")
    with app.extensions["bot"].database.session() as session:
        letter = session.exec(select(Letter)).one()
        versions = service.versions_of(session, letter_id=letter.id)
        assert [v.version_no for v in versions] == [1, 2]
        assert versions[1].supersedes_id == versions[0].id and letter.current_version_id == versions[1].id
        assert service.version_content(versions[1])["supersedes_sha256"] == versions[0].sha256
        assert service.version_content(versions[1])["fields"]["email"] == "boss@example.com.tw"
        assert "corrected" in [e.kind for e in service.events_of(session, letter_id=letter.id)]

    # The shipped proposal deadline (112/03/16) has passed: withdrawal is refused.
    texts = chat.say("撤回意向書")
    assert "截止" in joined(texts) and "確定撤回意向書" not in chat.labels()
    app.config["LETTERS_CAMPAIGN_OVERRIDES"] = {"gonghao-2023": {"proposal_deadline": "200/01/01 00:00"}}
    try:
        chat.say("撤回意向書")
        texts = chat.tap("確定撤回意向書")
        assert "已撤回" in joined(texts)
    finally:
        app.config.pop("LETTERS_CAMPAIGN_OVERRIDES")
    with app.extensions["bot"].database.session() as session:
        letter = session.exec(select(Letter)).one()
        assert letter.status == "withdrawn" and session.get(Company, company_id).letter_status == "withdrawn"
        assert service.verify_letter(session, letter=letter) == []
    texts = chat.say("我的意向書")
    assert "撤回" in joined(texts)


def test_photo_can_be_sent_later(app, chat, fake_line):
    owner_with_company(app, chat)
    sign_in_chat(chat)
    chat.tap("略過")
    texts = chat.say("傳用印頁")
    assert "公司大小章" in joined(texts)
    fake_line.contents["img-2"] = (JPEG, "image/jpeg")
    texts = chat.send("image", message_id="img-2")
    assert "已附" in joined(texts)
    texts = chat.say("我的意向書")
    assert "已附" in joined(texts)


def test_missing_intake_details_are_asked_and_saved_on_the_company(app, chat):
    company_id = owner_with_company(app, chat, tax_id=None, main_product=None, county=None)
    chat.say("簽署合作意向書")
    texts = chat.tap("同意")
    assert "統一編號" in joined(texts)
    texts = chat.say("04595258")
    assert "檢查碼" in joined(texts)
    texts = chat.say("０４５９５２５７")  # full-width digits are fine
    assert "主要的服務或產品" in joined(texts)
    chat.say("手搖飲")
    for answer in ("王小明", "0912345678"):
        chat.say(answer)
    texts = chat.tap("同手機")
    assert "E-mail" in joined(texts)
    for answer in ("shop@example.com", "新竹縣竹北市光明六路10號", "王大明"):
        chat.say(answer)
    agree_to_letter(chat)
    assert "簽署完成" in joined(chat.say("王大明"))
    with app.extensions["bot"].database.session() as session:
        company = session.get(Company, company_id)
        assert (company.tax_id, company.main_product, company.county, company.township) == \
            ("04595257", "手搖飲", "新竹縣", "竹北市")
        version = session.exec(select(LetterVersion)).one()
        assert service.version_content(version)["fields"]["phone"] == "0912345678"


def test_after_the_eligibility_chat_the_owner_signs_with_only_the_missing_details(app, chat):
    """The whole outcome of issue 5: verdict -> 「簽署合作意向書」 -> signed, asking only what is missing."""
    from tests.test_eligibility_chat import begin, drive

    begin(chat)
    drive(chat, {"registration": "company", "employees": 3, "prior_funding": [], "tax_id": "21556433"})
    texts = chat.tap("簽署合作意向書")
    assert "聯絡人" in joined(texts)  # consent already given; 名稱/統編/型態/人數/產品 prefilled
    for answer in ("王小明", "0912345678", "02-2345-6789", "shop@example.com", "臺北市大安區復興南路一段1號"):
        chat.say(answer)
    texts = chat.say("王大明")
    assert "小明咖啡有限公司" in joined(texts) and "21556433" in joined(texts)
    agree_to_letter(chat)
    assert "簽署完成" in joined(chat.say("王大明"))
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(Company)).one().letter_status == "signed"


def test_a_photo_that_cannot_be_fetched_is_asked_for_again(app, chat, fake_line):
    """LINE no longer has the image (or the download failed): nothing is attached, the question
    is asked again, and the next photo is attached."""
    owner_with_company(app, chat)
    sign_in_chat(chat)
    texts = chat.send("image", message_id="img-gone")
    assert "照片沒有收到完整" in joined(texts) and "略過" in chat.labels()
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(LetterAttachment)).first() is None
    fake_line.contents["img-3"] = (JPEG, "image/jpeg")
    assert "用印頁照片已附" in joined(chat.send("image", message_id="img-3"))
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(LetterAttachment)).one().mime == "image/jpeg"


def test_a_withdraw_confirmation_tapped_after_the_deadline_is_refused(app, chat):
    owner_with_company(app, chat)
    sign_in_chat(chat)
    chat.tap("略過")
    app.config["LETTERS_CAMPAIGN_OVERRIDES"] = {"gonghao-2023": {"proposal_deadline": "200/01/01 00:00"}}
    try:
        chat.say("撤回意向書")
        assert "維持有效" in joined(chat.tap("先不要撤回"))
        chat.say("撤回意向書")
        confirm = next(a for a in chat.actions() if a.get("label") == "確定撤回意向書")
    finally:
        app.config.pop("LETTERS_CAMPAIGN_OVERRIDES")
    texts = chat.tap_action(confirm)  # tapped once the shipped deadline (112/03/16) applies again
    assert "截止" in joined(texts) and "已撤回" not in joined(texts)
    with app.extensions["bot"].database.session() as session:
        letter = session.exec(select(Letter)).one()
        assert letter.status == "signed"
        assert "withdrawn" not in [e.kind for e in service.events_of(session, letter_id=letter.id)]


def test_sign_page_needs_a_drawing_and_its_links_die_with_the_conversation(app, chat):
    owner_with_company(app, chat)
    start_and_fill(chat)
    draft_link = next(a["uri"] for a in chat.actions() if a.get("type") == "uri")
    agree_to_letter(chat)
    sign_link = next(a["uri"] for a in chat.actions() if a.get("type") == "uri")
    too_small = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10).decode()
    for signature in ("", "data:image/png;base64,not base64!", too_small):
        response = requests.post(sign_link, data={"signed_name": "王大明", "signature": signature}, timeout=10)
        assert response.status_code == 422 and "請先在框內手寫簽名" in response.text
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(Letter)).first() is None
    assert "簽署完成" in joined(chat.say("王大明"))  # signed in the chat instead
    assert requests.get(sign_link, timeout=5).status_code == 410
    chat.tap("略過")
    assert requests.get(draft_link, timeout=5).status_code == 410


def test_a_letter_cannot_name_another_companys_tax_id(app, chat):
    # Issue 18: a letter speaks for the shop it is signed for. Editing the 統編 on the review card
    # to another registered shop's is refused at signing, nothing is signed, and the other shop is
    # never named; the owner types the right one and signs.
    company_id = owner_with_company(app, chat)
    make_company(app, "U" + "e" * 32, tax_id="12345675", name="別人的店")
    start_and_fill(chat)
    from bot.texts import t
    from letters import document as doc
    chat.tap(t("letters.review_edit", label=doc.template()["labels"]["tax_id"]))
    chat.say("12345675")
    agree_to_letter(chat)
    texts = joined(chat.say("王大明"))
    assert "不能使用" in texts and "別人的店" not in texts and "簽署完成" not in texts
    with app.extensions["bot"].database.session() as session:
        assert session.exec(select(Letter)).all() == []
    chat.say("04595257")
    agree_to_letter(chat)
    chat.say("王大明")
    with app.extensions["bot"].database.session() as session:
        letter = session.exec(select(Letter)).one()
        assert letter.company_id == company_id
        assert service.version_content(service.current_version(session, letter=letter))["fields"]["tax_id"] == "04595257"


def test_an_email_that_looks_like_a_slip_is_asked_about(app, chat):
    # 「gmial.com」: the signed copy would never arrive, so the signer chooses once.
    owner_with_company(app, chat)
    chat.say("簽署合作意向書")
    chat.tap("同意")
    chat.say("王小明")
    chat.say("0912-345-678")
    chat.say("02-2345-6789#12")
    texts = chat.say("ming@gmial.com")
    assert "ming@gmail.com" in joined(texts) and "改成 gmail.com" in chat.labels()
    assert "地址" in joined(chat.tap("改成 gmail.com"))
    with app.extensions["bot"].database.session() as session:
        assert session.get(Conversation, chat.user_id).data["email"] == "ming@gmail.com"
    # An address the signer insists on is kept as typed; a common one is never questioned.
    chat.say("上一步")
    chat.say("ming@gmial.com")
    assert "地址" in joined(chat.say("沒錯，用我打的"))  # typing the choice's words works too
    with app.extensions["bot"].database.session() as session:
        assert session.get(Conversation, chat.user_id).data["email"] == "ming@gmial.com"
    assert [document.likely_email_typo(a) for a in ("a@yahoo.com.tw", "a@shop.com.tw", "a@hotmial.com")] == \
        [None, None, "a@hotmail.com"]


def test_back_on_an_email_in_doubt_asks_for_it_again(app, chat):
    owner_with_company(app, chat)
    chat.say("簽署合作意向書")
    chat.tap("同意")
    for answer in ("王小明", "0912-345-678", "02-2345-6789#12", "ming@gmial.com"):
        chat.say(answer)
    texts = chat.say("上一步")
    assert t("letters.ask_email") in joined(texts) and "gmial" not in joined(texts)
    with app.extensions["bot"].database.session() as session:
        assert "_email_unsure" not in session.get(Conversation, chat.user_id).data


def test_a_thanks_is_not_taken_as_the_contact_persons_name(app, chat):
    # A name goes onto the signed letter: 「謝謝」「好的」 typed at that question are words to the bot.
    owner_with_company(app, chat)
    chat.say("簽署合作意向書")
    chat.tap("同意")
    for word in ("謝謝", "好的"):
        chat.say(word)
        with app.extensions["bot"].database.session() as session:
            assert "contact_name" not in session.get(Conversation, chat.user_id).data, word
    chat.say("王小明")
    with app.extensions["bot"].database.session() as session:
        assert session.get(Conversation, chat.user_id).data["contact_name"] == "王小明"


def test_no_tax_id_at_the_letter_says_where_to_look_it_up(app, chat):
    # A shop registered for tax only, that told the eligibility check it had no number at hand.
    owner_with_company(app, chat, tax_id=None, registration="tax_only")
    chat.say("簽署合作意向書")
    chat.tap("同意")
    for word in ("沒有", "不知道"):
        assert t("letters.tax_id_where") in joined(chat.say(word)), word
    assert "3vd8v6" in t("letters.tax_id_where")


def test_no_landline_in_words_is_the_mobile(app, chat):
    owner_with_company(app, chat)
    chat.say("簽署合作意向書")
    chat.tap("同意")
    chat.say("王小明")
    chat.say("0912-345-678")
    assert "mail" in joined(chat.say("沒有市話")).lower()
    with app.extensions["bot"].database.session() as session:
        assert session.get(Conversation, chat.user_id).data["phone"] == "0912345678"


def test_after_signing_the_menu_has_what_comes_next(app, chat):
    """Before the letter the menu offers the check and the letter; once signed, what the months
    after it ask: 進度, 訪視, 績效, 健檢, 提醒 (it kept offering 「簽署合作意向書」 for eight months)."""
    owner_with_company(app, chat)
    chat.say("選單")
    assert chat.labels()[:3] == ["我符合資格嗎？", "常見問題", "簽署合作意向書"]
    sign_in_chat(chat)
    chat.tap("略過")  # no photo of the stamped page
    menu = chat.labels()
    assert menu[:5] == ["我的進度", "預約訪視", "回報績效", "數位健檢", "我的提醒"]
    assert "簽署合作意向書" not in menu and "我符合資格嗎？" not in menu
    assert "小明商行的進度" in joined(chat.tap("我的進度"))
