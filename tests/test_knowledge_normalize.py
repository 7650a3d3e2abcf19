"""Normalisation used by the FAQ engine (knowledge/normalize.py)."""

from knowledge.normalize import chinese_numeral_to_int, english_words, eval_normalize, normalize_text, plain_register


def test_simplified_input_becomes_traditional():
    assert normalize_text("共好计划的目标是什么") == normalize_text("共好計畫的目標是什麼")
    assert normalize_text("数位券平台会抽查吗") == "數位券平台會抽查嗎"
    # In mainland usage 数字 is "digital": 数字共好 is the campaign, 数字化 is 數位化; a number stays 數字.
    assert normalize_text("可以参加数字共好吗") == "可以參加數位共好嗎"
    assert normalize_text("店家数字化转型") == "店家數位化轉型"
    assert normalize_text("号码是数字吗") == "號碼是數字嗎"


def test_full_width_and_case_fold():
    assert normalize_text("ＬＩＮＥ　Ｐａｙ １２３") == "linepay123"
    assert normalize_text("API") == normalize_text("ａｐｉ") == "api"


def test_punctuation_emoji_and_spaces_removed():
    assert normalize_text("請問～共好！！😀 截止  是哪天？？") == "請問共好截止是哪天"


def test_chinese_counts_become_digits():
    assert normalize_text("三十家") == "30家"
    assert normalize_text("九人以下") == "9人以下"
    assert normalize_text("兩百萬") == "200萬"
    assert normalize_text("十二個人") == "12個人"
    # not a count: 統一 stays a word
    assert normalize_text("統一編號") == "統一編號"


def test_chinese_numeral_parser():
    assert chinese_numeral_to_int("三十") == 30
    assert chinese_numeral_to_int("一百零五") == 105
    assert chinese_numeral_to_int("一一〇") == 110
    assert chinese_numeral_to_int("十") == 10


def test_variants_and_typos_collapse():
    assert normalize_text("臺北") == normalize_text("台北")
    assert normalize_text("計劃書") == normalize_text("計畫書")
    assert normalize_text("甚麼") == normalize_text("什麼")
    assert normalize_text("顧門") == normalize_text("顧問")  # a near-sound: homophones are knowledge.sounds


def test_dates_and_times_unified():
    assert normalize_text("3/16") == normalize_text("3月16日")
    assert normalize_text("112/3/16 17:00") == "112年3月16日17點00"


def test_eval_normalisation_is_minimal():
    assert eval_normalize("上限 ２００萬 SLA") == "上限200萬sla"


def test_simplified_keeps_taiwan_document_terms():
    # s2t would give 查覈; s2twp would turn 數據 into 資料 - the documents say 查核點 and 數據
    assert normalize_text("查核点") == "查核點"
    assert normalize_text("数据分析") == "數據分析"


def test_taiwanese_written_words_read_as_mandarin():
    # Owners in the south type Taiwanese with Chinese characters; the documents are Mandarin.
    assert normalize_text("阮這款人數甘會太多") == normalize_text("我們這種人數會不會太多")
    assert normalize_text("按呢嘛會當報嗎") == normalize_text("這樣也可以報嗎")
    assert normalize_text("顧問來過兩擺 閣會來嘸") == normalize_text("顧問來過兩次 還會來嗎")
    assert normalize_text("啥物") == normalize_text("什麼")  # not 什麼物: mapped before 啥
    assert normalize_text("最少愛幾間") == normalize_text("最少要幾間")
    # how much, where, every day, what for: the question words themselves
    assert normalize_text("一張偌濟錢") == normalize_text("一張多少錢")
    assert normalize_text("恁辦公室佇佗位") == normalize_text("你們辦公室在哪裡")
    assert normalize_text("甘愛逐工用") == normalize_text("要不要每天用")
    assert normalize_text("個資欲提去創啥") == normalize_text("個資要拿去做什麼")
    # ...and the same characters inside Mandarin words stay as they are.
    for word in ("靠攏", "內閣", "擺攤", "好嘛"):
        assert normalize_text(word) == word


def test_shares_and_days_have_one_form():
    # The documents write 10% and 六成; owners write 百分之十, 一成, 11月30號.
    assert normalize_text("百分之十") == normalize_text("10%") == normalize_text("一成")
    assert normalize_text("六成") == "60%"
    assert normalize_text("11月30號") == normalize_text("11月30日")
    for word in ("成本", "3成員", "幾號"):  # 成 and 號 in other words stay
        assert normalize_text(word) == word


def test_the_letter_register_reads_as_everyday_mandarin():
    # Courtesies and purpose clauses go; 之/為何/倘/本店/貴會 become the words owners' phrasings use.
    plain = plain_register("敬請告知本計畫之主辦機關為何，以利本所日後公文往來。")
    assert "的主辦機關是什麼" in plain and "敬請" not in plain and "公文往來" not in plain
    assert plain_register("倘本店未導入，有無罰則？") == "如果我們店未導入，有沒有罰則？"
    assert plain_register("貴會之地址") == "你們的地址"
    assert plain_register("為何要填問卷") == "為什麼要填問卷"  # not at a clause end: why
    # The request formula marks where the question starts; what came before it is told.
    assert plain_register("本會擬寄送資料，敬請告知其地址。") == "我們打算寄送資料，，請問地址。"
    # The same characters inside everyday words stay.
    for text in ("之後", "關係", "百分之十", "如此一來", "說明會幾點", "因此", "必須嗎", "若干", "辛若了"):
        assert plain_register(text) == text, text


def test_cloud_standing_alone_is_the_programmes_cloud():
    assert normalize_text("cloud的資料可以下載嗎") == "雲端的資料可以下載嗎"
    # …but not inside a product name
    assert normalize_text("iCloud空間不夠") == "icloud空間不夠"
    assert normalize_text("Google Cloud") == "googlecloud"


def test_english_words_in_a_question_become_the_programmes_words():
    # Spaces still there: each word is read on its own (once stripped, 「target industry scope」 is one
    # unknown token and 「eligible」 was cut into 「el」「ig」「ible」).
    assert english_words("Full-Time 3個 part-time 4個 這樣 eligible 嗎") == "正職 3個 兼職 4個 這樣 符合資格 嗎"
    assert english_words("target industry scope") == "target 行業 範圍"
    # Not inside a longer word.
    for text in ("escape", "capital", "classic", "staffing"):
        assert english_words(text) == text, text


def test_zhuyin_particles_and_chat_slang_read_as_words():
    assert normalize_text("要上課ㄇ") == "要上課嗎"
    assert normalize_text("我灰常忙 醬子可以嗎") == "我非常忙這樣子可以嗎"


def test_western_years_and_minguo_read_as_the_documents_roc_years():
    assert normalize_text("2023/10/31") == normalize_text("112/10/31") == "112年10月31日"
    assert normalize_text("2023年底") == normalize_text("民國112年底") == "112年底"
    assert normalize_text("做到2025/8嗎") == "做到114年8月嗎"
    assert normalize_text("電話2553-3988") == "電話25533988"  # not a date


def test_simplified_sign_is_signing_not_a_lot_drawn():
    # OpenCC wrote 签 as 籤 unless a phrase said otherwise: 「要签什么」 read as 「要籤什麼」.
    assert normalize_text("要签什么") == normalize_text("要簽什麼")
    assert normalize_text("逼我签") == normalize_text("逼我簽")
    for lot in ("抽签", "标签", "书签"):
        assert "籤" in normalize_text(lot), lot
